package delivery

import (
	"fmt"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// dryRunThreads makes the dry run's thread decisions as the senders make
// them (threads.go), on a table in memory: a parent for a new thread; for
// an event in a known thread, the parent's edit, then the reply.
type dryRunThreads struct {
	table   *threads.Store
	parents int // for the parents' made-up ts
}

func newDryRunThreads() dryRunThreads { return dryRunThreads{table: threads.Memory()} }

// messages returns what the daemon would send for ev at d, or nil when d
// does not thread ev.
func (t *dryRunThreads) messages(r *slack.Renderer, d rules.Destination, ev *event.Event, line []byte) []DryRunMessage {
	spec, err := threads.ParseSpec(d.Thread)
	if err != nil || spec.IsZero() {
		return nil
	}
	key := spec.Key(ev)
	if key == "" {
		return nil
	}
	now := time.Now()
	out := func(kind string, msg slack.Message) DryRunMessage {
		return DryRunMessage{Channel: d.Channel, SlackChannel: d.SlackChannel, Alert: d.Alert, Message: msg, Thread: kind, ThreadKey: key}
	}
	th, known := t.table.Get(d.Channel, key, now)
	if !known || !th.Joins(ev.Time, now) {
		th = threads.New(d.Channel, key, spec, ev, line, now)
		t.parents++
		th.SlackChannel, th.TS = d.SlackChannel, fmt.Sprintf("dry-run.%06d", t.parents)
		t.table.Put(th)
		return []DryRunMessage{out("parent", slack.WithMentions(r.Parent(&th), d.Mention))}
	}
	next := th.Clone()
	next.Apply(ev, now)
	t.table.Put(next)
	how := destRouting(d)
	how.Alert = false
	reply, _ := r.Pack([]event.Event{*ev}, how)
	return []DryRunMessage{out("edit", r.Parent(&next)), out("reply", reply)}
}
