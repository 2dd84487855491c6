package rules

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
)

// Warning is something in a valid configuration that is probably a mistake.
type Warning struct {
	File string
	Line int // 0 when the rule has no line (the built-in default channels)
	Msg  string
}

// String returns "file:line: warning: msg".
func (w Warning) String() string {
	var b strings.Builder
	if w.File != "" {
		b.WriteString(w.File)
		if w.Line > 0 {
			fmt.Fprintf(&b, ":%d", w.Line)
		}
		b.WriteString(": ")
	} else if w.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", w.Line)
	}
	b.WriteString("warning: ")
	b.WriteString(w.Msg)
	return b.String()
}

// lintRule is a channel or the enabled deploy approval alerts, as Lint sees it.
type lintRule struct {
	name        string
	label       string // how messages name it
	key         string // slackKey of its Slack channel
	slack       string
	patterns    []string
	line        int
	actionLines []int
	where       []config.Condition
	mention     []string
	alert       bool
	threads     bool // has thread_by
	template    bool // has a template
}

func (lr *lintRule) patternLine(i int) int {
	if i < len(lr.actionLines) && lr.actionLines[i] > 0 {
		return lr.actionLines[i]
	}
	return lr.line
}

// prefix names the rule when the warning has no line to point at.
func (lr *lintRule) prefix(line int) string {
	if line > 0 {
		return ""
	}
	return lr.label + ": "
}

// Lint returns the warnings `auditfwd check` prints for a valid cfg, in line
// order: patterns that match no known gateway action (with a likely fix),
// user.update_roles without user.update, where keys the gateway never writes
// and values it never uses for a field with a closed set of values (with a
// likely fix), and channels that can never receive an event because another
// rule sends the same actions to the same Slack channel first.
func Lint(cfg *config.Config) []Warning {
	var all []lintRule
	for _, ch := range cfg.Channels {
		all = append(all, lintRule{
			name: ch.Name, label: fmt.Sprintf("channel %q", ch.Name),
			key: slackKey(ch.SlackChannel), slack: ch.SlackChannel,
			patterns: ch.Actions, line: ch.Line, actionLines: ch.ActionLines,
			where: ch.Where, mention: ch.Mention, threads: ch.ThreadBy != "", template: ch.Template != nil,
		})
	}
	if a := cfg.DeployApprovalAlerts; a.Enabled {
		all = append(all, lintRule{
			name: config.AlertsChannelName, label: config.AlertsChannelName,
			key: slackKey(a.SlackChannel), slack: a.SlackChannel,
			patterns: a.Actions, line: a.Line, actionLines: a.ActionLines,
			where: a.Where, mention: a.Mention, alert: true,
		})
	}

	var ws []Warning
	warn := func(line int, format string, args ...any) {
		ws = append(ws, Warning{File: cfg.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	sug := newSuggester()
	budget := shadowBudget(maxShadowMatches)
	groups := shadowGroups{}
	for i := range all {
		if lr := &all[i]; lr.alert && len(lr.where) == 0 {
			groups.of(lr.key).alerts.add(lr) // the alert wins a shared Slack channel
		}
	}
	for i := range all {
		lr := &all[i]
		// (1), (4): typos and names the gateway never writes.
		for j, p := range lr.patterns {
			if len(p) > maxLintPattern {
				line := lr.patternLine(j)
				warn(line, "%spattern of %d bytes is too long to be compared with the gateway's actions (check compares patterns of up to %d bytes)",
					lr.prefix(line), len(p), maxLintPattern)
				continue
			}
			if known, checked := sug.known(p); known || !checked {
				continue
			}
			line := lr.patternLine(j)
			msg := fmt.Sprintf("%spattern %q matches no known gateway action", lr.prefix(line), p)
			if s := sug.closestKnown(p); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			warn(line, "%s", msg)
		}
		// (2): role changes are user.update events.
		if j := rolesOnly(lr.patterns); j >= 0 {
			line := lr.patternLine(j)
			warn(line, "%srole changes are logged as user.update (roles are in the event's details); user.update_roles is only named in the docs — add user.update", lr.prefix(line))
		}
		ws = append(ws, lintWhere(cfg.Path, lr)...)
		// (3): a channel that can never fire.
		// A rule with thread_by still threads what an earlier rule sends;
		// one with a template still lays it out.
		g := groups.of(lr.key)
		if !lr.alert && !lr.threads && !lr.template && !budget.spent() {
			if by := g.shadowedBy(lr, &budget); by != nil {
				warn(lr.line, "%s%s can never fire: every action it matches already goes to Slack channel %q through %s",
					lr.prefix(lr.line), lr.label, lr.slack, describeShadow(by))
			}
		}
		// Routing keeps the first rule for a Slack channel; a rule with a
		// where does not take every event of its actions.
		if !lr.alert && len(lr.where) == 0 {
			g.before.add(lr)
		}
	}
	if budget.spent() {
		warn(0, "too many patterns to work out which channels can never fire; that check was cut short")
	}
	if sug.unchecked > 0 {
		warn(0, "%d distinct patterns beyond the first %d were not compared with the gateway's actions (too many to check quickly)",
			sug.unchecked, maxCatalogChecks)
	}
	slices.SortStableFunc(ws, func(a, b Warning) int { return a.Line - b.Line })
	// A list used through YAML aliases gives the same warning at the same
	// line once per use: say it once.
	return slices.CompactFunc(ws, func(a, b Warning) bool { return a == b })
}

// Bounds on what one Lint analyses, so that `check` and a reload stay well
// under a second for any config within the size limits (docs/rules.md):
// real configs have a few hundred short patterns.
const (
	// maxSuggestions bounds the "did you mean" searches: each costs a scan
	// of the catalog, and a config of thousands of unknown patterns needs
	// the first few fixed before the rest are worth suggesting.
	maxSuggestions = 256
	// maxCatalogChecks bounds the distinct patterns compared with the catalog.
	maxCatalogChecks = 5_000
	// maxLintPattern is the longest pattern analysed (a gateway action is
	// well under 100 bytes).
	maxLintPattern = 1024
)

// suggester remembers, per pattern, whether it matches the catalog and
// what to suggest for it, so a pattern repeated through aliases costs once.
type suggester struct {
	matches   map[string]bool
	suggests  map[string]string
	unchecked int // distinct patterns beyond maxCatalogChecks
	skipped   map[string]bool
}

func newSuggester() *suggester {
	return &suggester{matches: map[string]bool{}, suggests: map[string]string{}, skipped: map[string]bool{}}
}

// known reports whether p matches a catalog action; checked is false when
// p is beyond maxCatalogChecks and was not compared.
func (s *suggester) known(p string) (known, checked bool) {
	if m, ok := s.matches[p]; ok {
		return m, true
	}
	if len(s.matches) >= maxCatalogChecks {
		if !s.skipped[p] {
			s.skipped[p] = true
			s.unchecked++
		}
		return false, false
	}
	m := len(catalogMatches(p)) > 0
	s.matches[p] = m
	return m, true
}

func (s *suggester) closestKnown(p string) string {
	if c, ok := s.suggests[p]; ok {
		return c
	}
	if len(s.suggests) >= maxSuggestions {
		return ""
	}
	c := closestKnown(p)
	s.suggests[p] = c
	return c
}

// lintWhere warns about where keys the gateway never writes and globs that
// match none of the values it writes for a field with a closed set.
func lintWhere(file string, lr *lintRule) []Warning {
	var ws []Warning
	warn := func(line int, format string, args ...any) {
		ws = append(ws, Warning{File: file, Line: line, Msg: lr.prefix(line) + fmt.Sprintf(format, args...)})
	}
	for _, c := range lr.where {
		values, known := fieldCatalog[c.Field]
		if !known {
			msg := fmt.Sprintf("where key %q is not a field the gateway writes (allowed, as gateways add fields; an event without it has \"\" there)", c.Field)
			if s := closestField(c.Field); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			warn(c.Line, "%s", msg)
			continue
		}
		if values == nil {
			continue
		}
		for i, g := range c.Globs {
			glob, _ := splitGlob(g)
			if glob == "" || len(valuesMatched(glob, values)) > 0 {
				continue // "" is the absent field
			}
			msg := fmt.Sprintf("where %s: %q matches no %s the gateway writes (%s)", c.Field, g, c.Field, strings.Join(values, ", "))
			if s := closest(glob, values); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			warn(lineOf(c.GlobLines, i, c.Line), "%s", msg)
		}
	}
	return ws
}

// lineOf is the line of the i-th item, or fallback when it has none.
func lineOf(lines []int, i, fallback int) int {
	if i < len(lines) && lines[i] > 0 {
		return lines[i]
	}
	return fallback
}

// rolesOnly returns the index of a pattern matching user.update_roles when
// no pattern matches user.update, else -1.
func rolesOnly(patterns []string) int {
	idx := -1
	for j, p := range patterns {
		if ok, _ := path.Match(p, "user.update"); ok {
			return -1
		}
		if ok, _ := path.Match(p, "user.update_roles"); ok && idx < 0 {
			idx = j
		}
	}
	return idx
}

// shadowGroups holds, per Slack channel, the rules that could take an
// event away from a later rule for it.
type shadowGroups map[string]*shadowGroup

func (gs shadowGroups) of(key string) *shadowGroup {
	g := gs[key]
	if g == nil {
		g = &shadowGroup{before: newCoverIndex(), alerts: newCoverIndex()}
		gs[key] = g
	}
	return g
}

// shadowGroup is one Slack channel's rules without a where: those seen so
// far in config order, and the deploy approval alerts (which win wherever
// they are).
type shadowGroup struct {
	before, alerts *coverIndex
}

// shadowedBy returns the rules that take every event of me away from it:
// earlier channels with the same Slack channel (routing keeps the first) and
// the deploy approval alerts when they share it (the alert wins). It is nil
// when me can fire, or when the budget runs out before that is known.
func (g *shadowGroup) shadowedBy(me *lintRule, budget *shadowBudget) []*lintRule {
	if len(me.mention) > 0 {
		return nil // it adds its mentions to what the others post
	}
	if len(g.before.rules)+len(g.alerts.rules) == 0 {
		return nil
	}
	var by []*lintRule
	for _, p := range me.patterns {
		cover := g.coveredBy(p, budget)
		if cover == nil || budget.spent() {
			return nil
		}
		for _, o := range cover {
			if !slices.Contains(by, o) {
				by = append(by, o)
			}
		}
	}
	// In config order, alerts last, as describeShadow says them.
	var out []*lintRule
	for _, o := range append(slices.Clone(g.before.rules), g.alerts.rules...) {
		if slices.Contains(by, o) {
			out = append(out, o)
		}
	}
	return out
}

// coveredBy returns the rules that together match every action p matches,
// or nil when they do not. Coverage is decided exactly for a literal p, for
// an identical pattern and for "*"; otherwise it is judged on the catalog,
// and a p that matches no catalog action is never covered.
func (g *shadowGroup) coveredBy(p string, budget *shadowBudget) []*lintRule {
	if len(p) > maxLintPattern {
		return nil // not analysed: the rule may fire
	}
	literal := isLiteral(p)
	for _, idx := range []*coverIndex{g.before, g.alerts} {
		if o := idx.first(p, literal, budget); o != nil {
			return []*lintRule{o}
		}
	}
	if literal {
		return nil
	}
	acts := catalogMatches(p)
	if len(acts) == 0 {
		return nil
	}
	var by []*lintRule
	for _, a := range acts {
		o := firstMatch(g.before.rules, a, budget)
		if o == nil {
			o = firstMatch(g.alerts.rules, a, budget)
		}
		if o == nil {
			return nil
		}
		if !slices.Contains(by, o) {
			by = append(by, o)
		}
	}
	return by
}

// maxShadowMatches bounds the work one Lint spends on finding channels
// that can never fire, in path.Match's worst-case cost (the product of the
// lengths): a config of thousands of rules for one Slack channel would make
// that check quadratic. Ordinary configs spend well under 1 %.
const maxShadowMatches = 50_000_000

// shadowBudget is what is left of maxShadowMatches.
type shadowBudget int

func (b *shadowBudget) spent() bool { return *b <= 0 }

// match is path.Match, counted against the budget.
func (b *shadowBudget) match(glob, s string) bool {
	*b -= shadowBudget(max(1, len(glob)) * max(1, len(s)))
	ok, _ := path.Match(glob, s)
	return ok
}

// coverIndex is rules' patterns, in order, indexed for the exact comparisons.
type coverIndex struct {
	rules []*lintRule
	exact map[string]int // pattern → index of the first rule that has it
	star  int            // index of the first rule with "*", or -1
	globs []indexedGlob  // the patterns with a metacharacter, in order
}

type indexedGlob struct {
	rule int
	glob string
}

func newCoverIndex() *coverIndex { return &coverIndex{exact: map[string]int{}, star: -1} }

func (idx *coverIndex) add(o *lintRule) {
	j := len(idx.rules)
	idx.rules = append(idx.rules, o)
	for _, q := range o.patterns {
		if _, ok := idx.exact[q]; !ok {
			idx.exact[q] = j
		}
		if q == "*" && idx.star < 0 {
			idx.star = j
		}
		if !isLiteral(q) && len(q) <= maxLintPattern {
			idx.globs = append(idx.globs, indexedGlob{j, q})
		}
	}
}

// first returns the first rule with p itself or "*", or, for a literal p,
// a pattern that matches it; nil when there is none.
func (idx *coverIndex) first(p string, literal bool, budget *shadowBudget) *lintRule {
	first := len(idx.rules)
	if idx.star >= 0 {
		first = idx.star
	}
	if j, ok := idx.exact[p]; ok {
		first = min(first, j)
	}
	if literal {
		for _, g := range idx.globs {
			if g.rule >= first || budget.spent() {
				break
			}
			if budget.match(g.glob, p) {
				first = g.rule
			}
		}
	}
	if first < len(idx.rules) {
		return idx.rules[first]
	}
	return nil
}

func firstMatch(rules []*lintRule, action string, budget *shadowBudget) *lintRule {
	for _, o := range rules {
		for _, q := range o.patterns {
			if len(q) <= maxLintPattern && budget.match(q, action) {
				return o
			}
		}
	}
	return nil
}

func describeShadow(by []*lintRule) string {
	var earlier []string
	alert := false
	for _, o := range by {
		if o.alert {
			alert = true
		} else {
			earlier = append(earlier, fmt.Sprintf("%q", o.name))
		}
	}
	var parts []string
	switch len(earlier) {
	case 0:
	case 1:
		parts = append(parts, "channel "+earlier[0]+", which comes first")
	default:
		parts = append(parts, "channels "+strings.Join(earlier[:len(earlier)-1], ", ")+" and "+earlier[len(earlier)-1]+", which come first")
	}
	if alert {
		parts = append(parts, config.AlertsChannelName+" (alerts win a shared Slack channel)")
	}
	return strings.Join(parts, " and ")
}
