// Package redact decides what of an event's text may leave the host: the
// built-in secret detectors (docs/redaction.md), the operator's field globs
// (redact.fields) and expressions (redact.patterns). It turns one value into
// the text that may be shown, counting each replacement by detector. It knows
// nothing about Slack, routing or files; it never logs what it replaces.
package redact

import (
	"fmt"
	"math/bits"
	"path"
	"regexp"
	"strings"
)

// Labels of auditfwd_redactions_total for the configured redactions.
const (
	FieldLabel   = "field"   // a redact.fields glob hid the value
	PatternLabel = "pattern" // a redact.patterns expression matched
)

// Hidden is what a value hidden by redact.fields or matched by
// redact.patterns shows instead.
const Hidden = "[redacted]"

// Counts is how many replacements each detector made (FieldLabel and
// PatternLabel for the configured ones). The zero value is empty and ready.
type Counts map[string]int

// Add counts n replacements by name.
func (c *Counts) Add(name string, n int) {
	if n == 0 {
		return
	}
	if *c == nil {
		*c = Counts{}
	}
	(*c)[name] += n
}

// AddAll adds every count of o.
func (c *Counts) AddAll(o Counts) {
	for k, n := range o {
		c.Add(k, n)
	}
}

// Options are the redact section of the config.
type Options struct {
	Secrets  bool     // the built-in detectors
	Fields   []string // field path globs (path.Match): "command", "details.*token*"
	Patterns []string // RE2 expressions
}

// Redactor redacts values as Options say. It is immutable and safe for
// concurrent use; a nil *Redactor changes nothing.
type Redactor struct {
	detectors []*detector
	index     *needleIndex // of detectors
	fields    []string
	patterns  []*regexp.Regexp
}

// New compiles o. A field glob or expression that is invalid is an error
// naming it (config.Parse reports them earlier, with their lines).
func New(o Options) (*Redactor, error) {
	r := &Redactor{fields: append([]string(nil), o.Fields...)}
	if o.Secrets {
		r.detectors, r.index = builtins, builtinIndex
	}
	for _, g := range o.Fields {
		if err := ValidateField(g); err != nil {
			return nil, err
		}
	}
	for _, p := range o.Patterns {
		re, err := compilePattern(p)
		if err != nil {
			return nil, err
		}
		r.patterns = append(r.patterns, re)
	}
	return r, nil
}

// ValidateField reports whether g is a usable redact.fields glob.
func ValidateField(g string) error {
	if strings.TrimSpace(g) == "" {
		return fmt.Errorf("empty field glob")
	}
	if _, err := path.Match(g, ""); err != nil {
		return fmt.Errorf("malformed field glob %q (path.Match syntax: * any run, ? one character, [a-z] a class): %w", g, err)
	}
	return nil
}

// ValidatePattern reports whether p is a usable redact.patterns expression:
// valid RE2 that does not match the empty string (it would match everywhere).
func ValidatePattern(p string) error {
	_, err := compilePattern(p)
	return err
}

// compilePattern compiles p once for New and ValidatePattern alike.
func compilePattern(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("invalid expression %q (RE2 syntax): %v", p, err)
	}
	if re.MatchString("") {
		return nil, fmt.Errorf("expression %q matches the empty string, so it would match everywhere", p)
	}
	return re, nil
}

// Hides reports whether the field at path (a top-level key, or
// "details.reason" for a key inside a JSON object value) is hidden by a
// redact.fields glob: its own path or the path of an object holding it
// matches one. The action and the timestamp never are: they are the
// message's heading and time line.
func (r *Redactor) Hides(p string) bool {
	if r == nil || len(r.fields) == 0 || p == "action" || p == "ts" || p == "timestamp" {
		return false
	}
	for {
		for _, g := range r.fields {
			if g == p || strings.ContainsAny(g, `*?[\`) && match(g, p) {
				return true
			}
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func match(glob, name string) bool {
	ok, _ := path.Match(glob, name)
	return ok
}

// Field is the value of the field at path as it may be shown: Hidden when
// a field glob hides it; else, for a JSON object, with the keys the globs
// hide inside it replaced; then with every detector's and pattern's match
// replaced (Text). Replacements are counted in c.
func (r *Redactor) Field(p, value string, c *Counts) string {
	if r == nil || value == "" {
		return value
	}
	if r.Hides(p) {
		c.Add(FieldLabel, 1)
		return Hidden
	}
	if len(r.fields) > 0 && strings.HasPrefix(value, "{") && r.mayHideUnder(p) {
		value = r.object(p, value, c)
	}
	return r.Text(value, c)
}

// Text replaces every match of the detectors (when redact.secrets is on)
// and of redact.patterns in s, counting them in c. Text that matches
// nothing is returned as it is, without allocating.
func (r *Redactor) Text(s string, c *Counts) string {
	if r == nil || s == "" {
		return s
	}
	if len(r.detectors) > 0 {
		for try := r.index.candidates(s); try != 0; try &= try - 1 {
			s = r.detectors[bits.TrailingZeros64(try)].redact(s, c) // in the detectors' order
		}
	}
	for _, re := range r.patterns {
		s = replacePattern(re, s, c)
	}
	return s
}

// replacePattern replaces each match of re in s with Hidden: the first
// capture group that took part in the match when re has groups, else the
// whole match.
func replacePattern(re *regexp.Regexp, s string, c *Counts) string {
	locs := re.FindAllStringSubmatchIndex(s, -1)
	if locs == nil {
		return s
	}
	var b strings.Builder
	last, n := 0, 0
	for _, loc := range locs {
		start, end := span(loc)
		if start < last || start == end {
			continue
		}
		b.WriteString(s[last:start])
		b.WriteString(Hidden)
		last = end
		n++
	}
	if n == 0 {
		return s
	}
	b.WriteString(s[last:])
	c.Add(PatternLabel, n)
	return b.String()
}

// span is the part of a match to replace: the first capture group that took
// part in it, or the whole match when none did (or there are none).
func span(loc []int) (int, int) {
	for g := 2; g+1 < len(loc); g += 2 {
		if loc[g] >= 0 && loc[g+1] > loc[g] {
			return loc[g], loc[g+1]
		}
	}
	return loc[0], loc[1]
}
