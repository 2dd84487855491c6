package rules

import (
	"slices"
)

// Change is an action whose destinations differ between two rule sets.
type Change struct {
	Action   string
	Old, New []string // destination channel names, in routing order; nil for none
}

// Diff routes the catalog actions and the given ones through old and cur
// (either may be nil: routes nothing) and returns, sorted by action, those
// whose set of destination channel names differs. It is what `auditfwd
// route` shows when reviewing a rule change.
func Diff(old, cur *Rules, actions []string) []Change {
	all := append(Catalog(), actions...)
	slices.Sort(all)
	all = slices.Compact(all)
	var out []Change
	for _, a := range all {
		o, n := channelNames(old, a), channelNames(cur, a)
		if !sameSet(o, n) {
			out = append(out, Change{Action: a, Old: o, New: n})
		}
	}
	return out
}

// channelNames routes without filling the cache: Diff's actions are not the
// hot path's.
func channelNames(r *Rules, action string) []string {
	if r == nil {
		return nil
	}
	var names []string
	for _, d := range r.compute(action) {
		names = append(names, d.Channel)
	}
	return names
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
