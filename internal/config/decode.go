package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auditfwd/auditfwd/internal/suggest"
)

// decoder walks the YAML node tree itself, rather than letting yaml.v3 fill
// structs, so that every unknown key, duplicate key and bad value is reported
// at once, each with its line.
type decoder struct {
	file string
	errs Errors
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) sort() {
	slices.SortStableFunc(d.errs, func(a, b *Error) int { return a.Line - b.Line })
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the document's root node, or nil for an empty document
// (nothing, comments only, or a lone null), which means "all defaults".
func (d *decoder) parse(data []byte) *yaml.Node {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.yamlError(err, data)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		if root := docRoot(&extra); root != nil {
			d.errorf(extra.Line, "a second YAML document (after ---) is not allowed; the configuration is one document")
		}
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err, data)
	}
	return docRoot(&doc)
}

func docRoot(doc *yaml.Node) *yaml.Node {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil
	}
	return root
}

// yamlError turns a yaml.v3 syntax error into file:line form.
func (d *decoder) yamlError(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case strings.Contains(msg, "cannot start any token"):
		// Almost always a tab in the indentation, which YAML forbids.
		if l := tabIndentedLine(data, line, line); l > 0 {
			line = l
			msg += " (tabs are not allowed for indentation)"
		}
	case strings.Contains(msg, "tab character"):
		// yaml.v3 reports the line before the tab ("found a tab character
		// that violates indentation"): point at the tab itself.
		if l := tabIndentedLine(data, line, 0); l > 0 {
			line = l
		}
	}
	d.errorf(line, "invalid YAML: %s", msg)
}

// field handles the value of one known key.
type field func(key, val *yaml.Node)

// mapping reports n's unknown and duplicate keys and calls the handler of
// each known one. where is the dotted path of n, "" for the top level.
// It reports false when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, where string, fields map[string]field) bool {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, "%s must be a mapping of keys to values, not %s", orTop(where), describe(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, "%s: keys must be plain strings", orTop(where))
			continue
		}
		if k.Tag == "!!merge" {
			d.errorf(k.Line, "%s: merge keys (<<) are not supported", orTop(where))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, "%s is set twice (first at line %d)", join(where, k.Value), first)
			continue
		}
		seen[k.Value] = k.Line
		h, ok := fields[k.Value]
		if !ok {
			d.unknownKey(k, where, fields)
			continue
		}
		h(k, deref(v))
	}
	return true
}

func (d *decoder) unknownKey(k *yaml.Node, where string, fields map[string]field) {
	msg := fmt.Sprintf("unknown key %q", k.Value)
	if where != "" {
		msg += " in " + where
	}
	best, bestDist := "", len(k.Value)/3+1
	for name := range fields {
		dist := suggest.Distance(k.Value, name)
		if len(k.Value) >= 3 && (strings.HasPrefix(name, k.Value) || strings.HasPrefix(k.Value, name)) {
			dist = min(dist, 1) // "password" for "password_file"
		}
		if dist < bestDist || (dist == bestDist && best != "" && name < best) {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		msg += fmt.Sprintf("; did you mean %q?", best)
	} else {
		known := make([]string, 0, len(fields))
		for name := range fields {
			known = append(known, name)
		}
		slices.Sort(known)
		msg += " (known keys: " + strings.Join(known, ", ") + ")"
	}
	d.errorf(k.Line, "%s", msg)
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "this"
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func orTop(where string) string {
	if where == "" {
		return "the configuration"
	}
	return where
}

// str returns a scalar's text; ok is false (and an error reported) for lists
// and mappings. A null value is "".
func (d *decoder) str(n *yaml.Node, name string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, "%s must be a string, not %s", name, describe(n))
		return "", false
	}
	if isNull(n) {
		return "", true
	}
	return n.Value, true
}

// setStr stores a string value; an empty one keeps the default.
func (d *decoder) setStr(dst *string, name string) field {
	return func(_, v *yaml.Node) {
		if s, ok := d.str(v, name); ok && strings.TrimSpace(s) != "" {
			*dst = strings.TrimSpace(s)
		}
	}
}

// oneOf is setStr restricted to a few values.
func (d *decoder) oneOf(dst *string, name string, allowed ...string) field {
	return func(_, v *yaml.Node) {
		s, ok := d.str(v, name)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return
		}
		if !slices.Contains(allowed, s) {
			d.errorf(v.Line, "%s: %q is not one of %s", name, s, strings.Join(allowed, ", "))
			return
		}
		*dst = s
	}
}

func (d *decoder) listenAddr(dst *string, name string) field {
	return func(_, v *yaml.Node) {
		s, ok := d.str(v, name)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return
		}
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			d.errorf(v.Line, "%s: %q is not a host:port address (e.g. 127.0.0.1:9464)", name, s)
			return
		}
		*dst = s
	}
}

func (d *decoder) httpURL(dst *string, name string) field {
	return func(_, v *yaml.Node) {
		s, ok := d.str(v, name)
		s = strings.TrimSpace(s)
		if !ok || s == "" {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.errorf(v.Line, "%s: %q is not an http(s) URL", name, s)
			return
		}
		*dst = s
	}
}

// config fills cfg from the top-level mapping. It reports whether the file
// has a channels key.
func (d *decoder) config(root *yaml.Node, cfg *Config) (channelsSet bool) {
	d.mapping(root, "", map[string]field{
		"audit_log": func(_, v *yaml.Node) { d.auditLog(v, &cfg.AuditLog) },
		"state_dir": d.setStr(&cfg.StateDir, "state_dir"),
		"slack":     func(_, v *yaml.Node) { d.slack(v, &cfg.Slack) },
		"metrics": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			d.mapping(v, "metrics", map[string]field{
				"listen": d.listenAddr(&cfg.Metrics.Listen, "metrics.listen"),
			})
		},
		"admin": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			d.mapping(v, "admin", map[string]field{
				"listen":          d.listenAddr(&cfg.Admin.Listen, "admin.listen"),
				"public_url":      d.httpURL(&cfg.Admin.PublicURL, "admin.public_url"),
				"password_file":   d.setStr(&cfg.Admin.PasswordFile, "admin.password_file"),
				"trusted_proxies": d.prefixes(&cfg.Admin.TrustedProxies, "admin.trusted_proxies"),
			})
		},
		"log_level": d.oneOf(&cfg.LogLevel, "log_level", "debug", "info", "warn", "error"),
		"channels": func(k, v *yaml.Node) {
			channelsSet = true
			cfg.Channels = d.channels(k, v)
		},
		"deploy_approval_alerts": func(k, v *yaml.Node) { d.alerts(k, v, &cfg.DeployApprovalAlerts) },
	})
	return channelsSet
}

func (d *decoder) auditLog(v *yaml.Node, a *AuditLog) {
	if isNull(v) {
		return
	}
	d.mapping(v, "audit_log", map[string]field{
		"path":     d.setStr(&a.Path, "audit_log.path"),
		"format":   d.oneOf(&a.Format, "audit_log.format", "auto", "json", "docker", "cri"),
		"start_at": d.oneOf(&a.StartAt, "audit_log.start_at", "end", "beginning"),
		"max_line_bytes": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			var n int
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil {
				d.errorf(v.Line, "audit_log.max_line_bytes must be a whole number of bytes, not %s", describe(v))
				return
			}
			if n <= 0 {
				d.errorf(v.Line, "audit_log.max_line_bytes must be positive, not %d", n)
				return
			}
			a.MaxLineBytes = n
		},
	})
}

func (d *decoder) slack(v *yaml.Node, s *Slack) {
	if isNull(v) {
		return
	}
	d.mapping(v, "slack", map[string]field{
		"api_url":            d.httpURL(&s.APIURL, "slack.api_url"),
		"authorize_url":      d.httpURL(&s.AuthorizeURL, "slack.authorize_url"),
		"client_id":          d.setStr(&s.ClientID, "slack.client_id"),
		"client_secret_file": d.setStr(&s.ClientSecretFile, "slack.client_secret_file"),
		"bot_token_file":     d.setStr(&s.BotTokenFile, "slack.bot_token_file"),
	})
	if !strings.HasSuffix(s.APIURL, "/") {
		s.APIURL += "/"
	}
}

// channels decodes the channels list. The result is never nil, so that
// `channels: []` (route nothing) differs from an absent key (the defaults).
// What the rules mean is checked by checkRules once the file is read.
func (d *decoder) channels(k, v *yaml.Node) []Channel {
	out := []Channel{}
	if isNull(v) {
		d.errorf(k.Line, "channels is empty: write `channels: []` to route nothing, or remove the key for the default channels")
		return out
	}
	if v.Kind != yaml.SequenceNode {
		d.errorf(v.Line, "channels must be a list of channels, not %s", describe(v))
		return out
	}
	for i, item := range v.Content {
		item = deref(item)
		where := fmt.Sprintf("channels[%d]", i)
		ch := Channel{Line: item.Line, lines: ruleLines{name: item.Line, slack: item.Line, actions: item.Line}}
		threadByLine, windowLine := 0, 0
		ok := d.mapping(item, where, map[string]field{
			"name": func(_, v *yaml.Node) {
				ch.Name, _ = d.str(v, where+".name")
				ch.Name = strings.TrimSpace(ch.Name)
				ch.lines.name = v.Line
			},
			"slack_channel": func(_, v *yaml.Node) {
				ch.SlackChannel, _ = d.str(v, where+".slack_channel")
				ch.SlackChannel = strings.TrimSpace(ch.SlackChannel)
				ch.lines.slack = v.Line
			},
			"actions": func(k, v *yaml.Node) {
				ch.lines.actions = k.Line
				ch.Actions, ch.ActionLines = d.patterns(v, where+".actions")
			},
			"where":   func(k, v *yaml.Node) { ch.Where = d.where(k, v, where+".where") },
			"mention": func(k, v *yaml.Node) { ch.Mention, ch.MentionLines = d.mentions(v, where+".mention") },
			"thread_by": func(k, v *yaml.Node) {
				ch.ThreadBy, _ = d.str(v, where+".thread_by")
				ch.ThreadBy, threadByLine = strings.TrimSpace(ch.ThreadBy), k.Line
			},
			"thread_window": func(k, v *yaml.Node) {
				ch.ThreadWindow, windowLine = d.duration(v, where+".thread_window"), k.Line
			},
		})
		label := where
		if ch.Name != "" {
			label = fmt.Sprintf("channel %q", ch.Name)
		}
		d.checkThread(label, &ch, threadByLine, windowLine)
		if ok {
			out = append(out, ch)
		}
	}
	return out
}

// patterns decodes a list of action patterns with the line of each. The
// list is not nil once the key is present, even when empty or null.
func (d *decoder) patterns(v *yaml.Node, name string) ([]string, []int) {
	return d.scalars(v, name, "action patterns", "pattern")
}

// scalars decodes a list of scalars with the line of each: never nil.
// what names the list and item one element in messages.
func (d *decoder) scalars(v *yaml.Node, name, what, item string) ([]string, []int) {
	if isNull(v) {
		return []string{}, []int{}
	}
	if v.Kind != yaml.SequenceNode {
		d.errorf(v.Line, "%s must be a list of %s, not %s", name, what, describe(v))
		return []string{}, []int{}
	}
	vals := make([]string, 0, len(v.Content))
	lines := make([]int, 0, len(v.Content))
	for _, n := range v.Content {
		n = deref(n)
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.errorf(n.Line, "%s: each %s must be a string, not %s", name, item, describe(n))
			continue
		}
		vals = append(vals, n.Value)
		lines = append(lines, n.Line)
	}
	return vals, lines
}

// where decodes a rule's conditions: a mapping of event fields to lists of
// globs. Unquoted numbers are compared as the gateway's numbers are, in
// their shortest decimal form (1.0 is "1"); null is "" (the field is absent).
func (d *decoder) where(k, v *yaml.Node, name string) []Condition {
	if isNull(v) || v.Kind == yaml.MappingNode && len(v.Content) == 0 {
		d.errorf(k.Line, "%s has no conditions; remove it, or add a field and its globs (status: [failed])", name)
		return nil
	}
	if v.Kind != yaml.MappingNode {
		d.errorf(v.Line, "%s must be a mapping of event fields to lists of globs (status: [failed]), not %s", name, describe(v))
		return nil
	}
	out := []Condition{}
	seen := map[string]int{}
	for i := 0; i+1 < len(v.Content); i += 2 {
		key, val := v.Content[i], deref(v.Content[i+1])
		if key.Kind != yaml.ScalarNode || key.Tag == "!!merge" {
			d.errorf(key.Line, "%s: keys must be event field names", name)
			continue
		}
		if first, dup := seen[key.Value]; dup {
			d.errorf(key.Line, "%s.%s is set twice (first at line %d)", name, key.Value, first)
			continue
		}
		seen[key.Value] = key.Line
		c := Condition{Field: key.Value, Line: key.Line, Globs: []string{}, GlobLines: []int{}}
		ok := true
		switch {
		case isNull(val):
		case val.Kind != yaml.SequenceNode:
			d.errorf(val.Line, "%s.%s must be a list of globs, not %s; write %s: [%s]", name, key.Value, describe(val), key.Value, val.Value)
			ok = false
		default:
			for _, n := range val.Content {
				n = deref(n)
				if n.Kind != yaml.ScalarNode {
					d.errorf(n.Line, "%s.%s: each glob must be a string, not %s", name, key.Value, describe(n))
					ok = false
					continue
				}
				c.Globs = append(c.Globs, scalarText(n))
				c.GlobLines = append(c.GlobLines, n.Line)
			}
		}
		if ok { // a shape error is reported once, not again as an empty list
			out = append(out, c)
		}
	}
	return out
}

// scalarText is a glob as routing compares it: an unquoted number in its
// shortest decimal form, null as "", anything else as written.
func scalarText(n *yaml.Node) string {
	switch n.Tag {
	case "!!null":
		return ""
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return strconv.FormatInt(i, 10)
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	return n.Value
}

// mentions decodes a rule's mention list.
func (d *decoder) mentions(v *yaml.Node, name string) ([]string, []int) {
	ms, lines := d.scalars(v, name, "mentions (S… user groups, U…/W… users, here, channel)", "mention")
	for i := range ms {
		ms[i] = strings.TrimSpace(ms[i])
	}
	return ms, lines
}

func (d *decoder) alerts(k, v *yaml.Node, a *DeployApprovalAlerts) {
	a.Line = k.Line
	if isNull(v) {
		return
	}
	a.lines = ruleLines{name: k.Line, slack: k.Line, actions: k.Line}
	const where = AlertsChannelName
	d.mapping(v, where, map[string]field{
		"enabled": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&a.Enabled) != nil {
				d.errorf(v.Line, "%s.enabled must be true or false, not %s", where, describe(v))
			}
		},
		"slack_channel": func(_, v *yaml.Node) {
			s, _ := d.str(v, where+".slack_channel")
			a.SlackChannel = strings.TrimSpace(s)
			a.lines.slack = v.Line
		},
		"thread": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			if v.Kind != yaml.ScalarNode || v.Tag != "!!bool" || v.Decode(&a.Thread) != nil {
				d.errorf(v.Line, "%s.thread must be true or false, not %s", where, describe(v))
			}
		},
		"actions": func(k, v *yaml.Node) {
			a.Actions, a.ActionLines = d.patterns(v, where+".actions")
			a.lines.actions = k.Line
		},
		"where":   func(k, v *yaml.Node) { a.Where = d.where(k, v, where+".where") },
		"mention": func(k, v *yaml.Node) { a.Mention, a.MentionLines = d.mentions(v, where+".mention") },
	})
}

// tabIndentedLine returns the first line from line from (1-based; 0: the
// first) up to line to (0: the end) whose indentation holds a tab, or 0.
func tabIndentedLine(data []byte, from, to int) int {
	for i, l := range strings.Split(string(data), "\n") {
		n := i + 1
		if n < from || (to > 0 && n > to) {
			continue
		}
		if indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]; strings.Contains(indent, "\t") {
			return n
		}
	}
	return 0
}
