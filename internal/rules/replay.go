package rules

import (
	"cmp"
	"slices"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
)

// Replay runs real events through two rule sets, as `auditfwd route --diff
// OLD --replay LOG` does: how many events each channel gets before and
// after, and the events whose destinations change.
type Replay struct {
	old, cur *Rules
	limit    int

	Events  int      // events replayed
	Changes []Change // the first limit events whose destinations differ
	Changed int      // how many differ in all
	counts  map[string]*[2]int
}

// NewReplay compares old with cur (either may be nil: routes nothing),
// keeping at most limit changed events.
func NewReplay(old, cur *Rules, limit int) *Replay {
	return &Replay{old: old, cur: cur, limit: limit, counts: map[string]*[2]int{}}
}

// Add replays one event: action as event.ClassifyFields found it in the
// line f indexes; where says where the line is ("audit.log:12").
func (rp *Replay) Add(where string, action []byte, f *event.Fields) {
	rp.Events++
	o, n := rp.old.eventRoute(action, f), rp.cur.eventRoute(action, f)
	for side, names := range [][]string{o.matched, n.matched} {
		for _, name := range names {
			c := rp.counts[name]
			if c == nil {
				c = new([2]int)
				rp.counts[name] = c
			}
			c[side]++
		}
	}
	if old, cur, changed := compare(o, n); changed {
		rp.Changed++
		if len(rp.Changes) < rp.limit {
			rp.Changes = append(rp.Changes, Change{Action: string(action), Where: where, Old: old, New: cur})
		}
	}
}

// ChannelCount is how many events one channel gets with each rule set.
type ChannelCount struct {
	Name        string
	Before, Now int
}

// Counts lists every channel of either rule set, in the new config's order
// and then the old one's, deploy_approval_alerts last: a channel missing
// from one rule set counts 0 there.
func (rp *Replay) Counts() []ChannelCount {
	var names []string
	for _, r := range []*Rules{rp.cur, rp.old} {
		if r != nil {
			names = append(names, r.names()...)
		}
	}
	// names puts deploy_approval_alerts last in each set; keep it last in both.
	slices.SortStableFunc(names, func(a, b string) int {
		return cmp.Compare(boolInt(a == config.AlertsChannelName), boolInt(b == config.AlertsChannelName))
	})
	names = compactStable(names)
	out := make([]ChannelCount, 0, len(names))
	for _, name := range names {
		c := ChannelCount{Name: name}
		if n := rp.counts[name]; n != nil {
			c.Before, c.Now = n[0], n[1]
		}
		out = append(out, c)
	}
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compactStable drops repeated strings, keeping the first of each.
func compactStable(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
