package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// dryRunThreads carries out threads.Decide as the senders do (threads.go),
// on a table in memory: a parent for a new thread; for an event in a known
// thread, the parent's edit, then the reply.
type dryRunThreads struct {
	table   *threads.Table
	parents int // for the parents' made-up ts
}

func newDryRunThreads() dryRunThreads {
	return dryRunThreads{table: threads.NewTable(context.Background(), threads.TableOptions{}, time.Now())}
}

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
	var cur *threads.Thread
	if th, known := t.table.Get(d.Channel, key, now); known {
		cur = &th
	}
	dec := threads.Decide(cur, threads.Input{Channel: d.Channel, Spec: spec, Key: key, SlackChannel: d.SlackChannel,
		Event: ev, Line: line, Mention: d.Mention, Now: now})
	if dec.Action == threads.Start {
		t.parents++
		dec.Thread.TS = fmt.Sprintf("dry-run.%06d", t.parents)
		t.table.Put(context.Background(), dec.Thread)
		return []DryRunMessage{out("parent", parentMessage(r, dec))}
	}
	t.table.Put(context.Background(), dec.Thread)
	var msgs []DryRunMessage
	if dec.Edit {
		msgs = append(msgs, out("edit", r.Parent(&dec.Thread)))
	}
	reply, _ := replyMessage(r, []event.Event{*ev}, []string{d.Template}, []threads.Decision{dec})
	return append(msgs, out("reply", reply))
}
