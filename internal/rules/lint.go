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
	for i := range all {
		lr := &all[i]
		// (1), (4): typos and names the gateway never writes.
		for j, p := range lr.patterns {
			if len(catalogMatches(p)) > 0 {
				continue
			}
			line := lr.patternLine(j)
			msg := fmt.Sprintf("%spattern %q matches no known gateway action", lr.prefix(line), p)
			if s := closestKnown(p); s != "" {
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
		if !lr.alert && !lr.threads && !lr.template {
			if by := shadowedBy(all, i); by != nil {
				warn(lr.line, "%s%s can never fire: every action it matches already goes to Slack channel %q through %s",
					lr.prefix(lr.line), lr.label, lr.slack, describeShadow(by))
			}
		}
	}
	slices.SortStableFunc(ws, func(a, b Warning) int { return a.Line - b.Line })
	return ws
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
			glob, _ := config.SplitGlob(g)
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

// shadowedBy returns the rules that take every event of all[i] away from it:
// earlier channels with the same Slack channel (routing keeps the first) and
// the deploy approval alerts when they share it (the alert wins). It is nil
// when all[i] can fire.
func shadowedBy(all []lintRule, i int) []*lintRule {
	me := &all[i]
	if len(me.mention) > 0 {
		return nil // it adds its mentions to what the others post
	}
	var others []*lintRule
	for j := range all {
		o := &all[j]
		// A rule with a where does not take every event of its actions.
		if j != i && o.key == me.key && (j < i || o.alert) && len(o.where) == 0 {
			others = append(others, o)
		}
	}
	if len(others) == 0 {
		return nil
	}
	used := map[*lintRule]bool{}
	for _, p := range me.patterns {
		by := coveredBy(p, others)
		if by == nil {
			return nil
		}
		for _, o := range by {
			used[o] = true
		}
	}
	var out []*lintRule
	for _, o := range others {
		if used[o] {
			out = append(out, o)
		}
	}
	return out
}

// coveredBy returns the rules among others that together match every action
// p matches, or nil when they do not. Coverage is decided exactly for a
// literal p, for an identical pattern and for "*"; otherwise it is judged on
// the catalog, and a p that matches no catalog action is never covered.
func coveredBy(p string, others []*lintRule) []*lintRule {
	for _, o := range others {
		for _, q := range o.patterns {
			if q == p || q == "*" {
				return []*lintRule{o}
			}
			if isLiteral(p) {
				if ok, _ := path.Match(q, p); ok {
					return []*lintRule{o}
				}
			}
		}
	}
	if isLiteral(p) {
		return nil
	}
	acts := catalogMatches(p)
	if len(acts) == 0 {
		return nil
	}
	var by []*lintRule
	for _, a := range acts {
		o := firstMatch(others, a)
		if o == nil {
			return nil
		}
		if !slices.Contains(by, o) {
			by = append(by, o)
		}
	}
	return by
}

func firstMatch(rules []*lintRule, action string) *lintRule {
	for _, o := range rules {
		for _, q := range o.patterns {
			if ok, _ := path.Match(q, action); ok {
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
