package rules

import (
	"slices"

	"github.com/auditfwd/auditfwd/internal/config"
)

// Change is an action whose destinations differ between two rule sets.
type Change struct {
	Action string
	// Old and New are the destinations in routing order, nil for none, by
	// channel name ("name (alert)" where the deploy approval alert shares
	// that channel's Slack channel); when the names alone would not show the
	// change (a channel's slack_channel changed), each is
	// "name (slack_channel)" or "name (slack_channel, alert)".
	Old, New []string
}

// Diff routes the catalog actions, the actions named literally in either rule
// set and the given ones through old and cur (either may be nil: routes
// nothing) and returns, sorted by action, those whose destinations differ:
// another set of channel names, another Slack channel, or alert formatting.
// It is what `auditfwd route --diff` shows when reviewing a rule change.
func Diff(old, cur *Rules, actions []string) []Change {
	all := append(Catalog(), actions...)
	all = append(all, old.literals()...)
	all = append(all, cur.literals()...)
	slices.Sort(all)
	all = slices.Compact(all)
	var out []Change
	for _, a := range all {
		o, n := destinations(old, a), destinations(cur, a)
		on, nn := names(o, false), names(n, false)
		switch {
		case !sameSet(on, nn):
			out = append(out, Change{Action: a, Old: on, New: nn})
		case !sameSet(keys(o), keys(n)):
			out = append(out, Change{Action: a, Old: names(o, true), New: names(n, true)})
		}
	}
	return out
}

// literals returns the patterns without metacharacters: actions the rules
// name, which the catalog may not know.
func (r *Rules) literals() []string {
	if r == nil {
		return nil
	}
	var out []string
	add := func(ru *rule) {
		for i, p := range ru.patterns {
			if ru.literal[i] {
				out = append(out, p)
			}
		}
	}
	for i := range r.rules {
		add(&r.rules[i])
	}
	if r.alerts != nil {
		add(r.alerts)
	}
	return out
}

// destinations routes without filling the cache: Diff's actions are not the
// hot path's.
func destinations(r *Rules, action string) []Destination {
	if r == nil {
		return nil
	}
	return r.compute(action)
}

func names(ds []Destination, full bool) []string {
	var out []string
	for _, d := range ds {
		switch {
		case !full && d.Alert && d.Channel != config.AlertsChannelName:
			out = append(out, d.Channel+" (alert)") // the alert took a shared Slack channel's place
		case !full:
			out = append(out, d.Channel)
		case d.Alert:
			out = append(out, d.Channel+" ("+d.SlackChannel+", alert)")
		default:
			out = append(out, d.Channel+" ("+d.SlackChannel+")")
		}
	}
	return out
}

// keys identifies destinations for comparison: "#security" and "security"
// are the same Slack channel.
func keys(ds []Destination) []string {
	var out []string
	for _, d := range ds {
		k := d.Channel + "\x00" + slackKey(d.SlackChannel)
		if d.Alert {
			k += "\x00alert"
		}
		out = append(out, k)
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
