package rules

import (
	"slices"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
)

// Change is an action (or a replayed event) whose destinations differ
// between two rule sets.
type Change struct {
	Action string
	// Where the event is, for a replayed one ("audit.log:12"); "" otherwise.
	Where string
	// Old and New are the destinations, nil for none: by name, then, when the
	// names alone would not show the change, with Slack channel, alert
	// formatting and mentions. See describe.
	Old, New []string
}

// Diff routes the catalog actions, the actions named literally in either rule
// set and the given ones through old and cur (either may be nil: routes
// nothing) and returns, sorted by action, those whose destinations differ:
// another set of channels, another Slack channel, alert formatting, another
// where or other mentions. An action alone cannot say whether a where holds,
// so a rule with one is shown with its conditions ("name if status:
// [failed]"); `route --diff --replay` answers for real events. It is what
// `auditfwd route --diff` shows when reviewing a rule change.
func Diff(old, cur *Rules, actions []string) []Change {
	all := append(Catalog(), actions...)
	all = append(all, old.literals()...)
	all = append(all, cur.literals()...)
	slices.Sort(all)
	all = slices.Compact(all)
	var out []Change
	for _, a := range all {
		if o, n, changed := compare(old.actionRoute(a), cur.actionRoute(a)); changed {
			out = append(out, Change{Action: a, Old: o, New: n})
		}
	}
	return out
}

// route is what one rule set does with one event, for comparing.
type route struct {
	dests []Destination
	// matched names every rule that matched a replayed event; nil in Diff.
	matched []string
	// conditional are the rules with a where whose action pattern
	// matches: Diff cannot tell whether their conditions hold.
	conditional []conditional
}

// conditional is a rule that routes an action if its where holds.
type conditional struct {
	dest  Destination // where it would go, with its own mentions
	conds string      // its where, as written: "status: [failed]; …"
}

// actionRoute is where an action goes without knowing its other fields: the
// destinations of the rules without a where, and the rules with one.
func (r *Rules) actionRoute(action string) route {
	if r == nil {
		return route{}
	}
	p := r.newPlan(action) // not cached: Diff's actions are not the hot path's
	rt := route{dests: p.compute(make([]bool, len(p.cond)))}
	for _, ru := range p.cond {
		var conds []string
		for _, c := range ru.where {
			conds = append(conds, c.src.String())
		}
		rt.conditional = append(rt.conditional, conditional{
			dest:  Destination{Channel: ru.name, SlackChannel: ru.slack, Alert: ru.alert, Mention: ru.mention},
			conds: strings.Join(conds, "; "),
		})
	}
	return rt
}

// eventRoute is where one event goes, and every rule that matched it.
func (r *Rules) eventRoute(action []byte, f *event.Fields) route {
	if r == nil {
		return route{matched: []string{}}
	}
	return route{dests: r.RouteEvent(action, f), matched: r.Match(action, f)}
}

// compare describes two routes at the first level of detail that tells them
// apart: names; then Slack channels and alert formatting; then mentions.
// When the Slack channels differ and the mentions too, the mentions are
// shown, so that a new mention is never hidden behind a new channel.
func compare(o, n route) (old, cur []string, changed bool) {
	for level := range 3 {
		if !sameSet(describe(o, level, false), describe(n, level, false)) {
			if level == 1 && !sameSet(describe(o, levelMentions, false), describe(n, levelMentions, false)) {
				level = 2
			}
			return describe(o, level, true), describe(n, level, true), true
		}
	}
	return nil, nil, false
}

// levelMentions is the level of describe that shows only who is pinged.
const levelMentions = -1

// describe names a route's destinations at a level of detail: 0, the rules
// that matched a replayed event, or else the channel names ("name (alert)"
// where the deploy approval alert took a shared Slack channel's place); 1,
// "name (slack_channel)" or "name (slack_channel, alert)"; 2, as 1 with
// ", mention …" added; levelMentions, "name mention …" for destinations
// that ping. The conditional rules follow, at the same level, with " if "
// and their where. For display the Slack channel is as configured; for
// comparing, "#security" and "security" are the same.
func describe(rt route, level int, display bool) []string {
	var out []string
	if level == 0 && rt.matched != nil {
		out = rt.matched
	} else {
		for _, d := range rt.dests {
			if s := describeDest(d, level, display); s != "" {
				out = append(out, s)
			}
		}
	}
	for _, c := range rt.conditional {
		if s := describeDest(c.dest, level, display); s != "" {
			out = append(out, s+" if "+c.conds)
		}
	}
	return out
}

// describeDest is one destination as describe shows it ("" when
// levelMentions and it pings nobody).
func describeDest(d Destination, level int, display bool) string {
	if level == levelMentions {
		if len(d.Mention) == 0 {
			return ""
		}
		return d.Channel + " mention " + strings.Join(d.Mention, " ")
	}
	slack := d.SlackChannel
	if !display {
		slack = slackKey(slack)
	}
	var s string
	switch {
	case level == 0 && d.Alert && d.Channel != config.AlertsChannelName:
		s = d.Channel + " (alert)"
	case level == 0:
		s = d.Channel
	case d.Alert:
		s = d.Channel + " (" + slack + ", alert"
	default:
		s = d.Channel + " (" + slack
	}
	if level == 2 && len(d.Mention) > 0 {
		s += ", mention " + strings.Join(d.Mention, " ")
	}
	if level > 0 {
		s += ")"
	}
	return s
}

// literals returns the patterns without metacharacters: actions the rules
// name, which the catalog may not know.
func (r *Rules) literals() []string {
	if r == nil {
		return nil
	}
	var out []string
	for i := range r.rules {
		for _, p := range r.rules[i].patterns {
			if isLiteral(p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
