package dryrun

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Message is one printed message: what the daemon would send where.
type Message struct {
	Channel      string        `json:"channel"`
	SlackChannel string        `json:"slack_channel"`
	Alert        bool          `json:"alert,omitempty"`
	Message      slack.Message `json:"message"`
	// Thread is "parent", "reply" or "edit" (of the parent) for a threaded
	// destination (docs/threads.md), ThreadKey the thread's key.
	Thread    string `json:"thread,omitempty"`
	ThreadKey string `json:"thread_key,omitempty"`
	// Redacted says what was redacted in the message, by detector.
	Redacted redact.Counts `json:"redacted,omitempty"`
}

// printer is the dry run's pipeline.Sink: it prints each message the
// daemon would post (parents, replies and edits of threads included)
// instead of calling Slack, laid out (redacted, templated) by r as the
// senders do, threads carried out as the senders carry out threads.Decide.
type printer struct {
	w        *bufio.Writer
	r        *slack.Renderer
	write    func(w io.Writer, m Message) error
	threads  *threads.Table // in memory
	parents  int            // for the parents' made-up ts
	redacted redact.Counts
}

// newPrinter prints each message to w with write (writeJSON or writeText).
func newPrinter(w io.Writer, r *slack.Renderer, write func(w io.Writer, m Message) error) *printer {
	return &printer{w: bufio.NewWriter(w), r: r, write: write,
		threads: threads.NewTable(context.Background(), threads.TableOptions{}, time.Now())}
}

func writeJSON(w io.Writer, m Message) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep Slack's <!date^…> readable
	return enc.Encode(m)
}

// Enqueue implements pipeline.Sink.
func (p *printer) Enqueue(d rules.Destination, line []byte, _ logpos.Position) (bool, error) {
	ev, err := event.Parse(line)
	if err != nil {
		return false, fmt.Errorf("dry run: %w", err)
	}
	msgs := p.threaded(d, &ev, line)
	if msgs == nil {
		msg, _ := p.r.Pack([]event.Event{ev}, slack.Routing{Alert: d.Alert, Mentions: [][]string{d.Mention}, Templates: []string{d.Template}})
		msgs = []Message{{Channel: d.Channel, SlackChannel: d.SlackChannel, Alert: d.Alert, Message: msg}}
	}
	for _, m := range msgs {
		m.Redacted = m.Message.Redacted
		p.redacted.AddAll(m.Redacted)
		if err := p.write(p.w, m); err != nil {
			return false, fmt.Errorf("dry run: %w", err)
		}
	}
	return true, nil
}

// threaded returns what the daemon would send for ev at d, or nil when d
// does not thread ev: a parent for a new thread; for an event in a known
// thread, the parent's edit, then the reply.
func (p *printer) threaded(d rules.Destination, ev *event.Event, line []byte) []Message {
	spec, err := threads.ParseSpec(d.Thread)
	if err != nil || spec.IsZero() {
		return nil
	}
	key := spec.Key(ev)
	if key == "" {
		return nil
	}
	now := time.Now()
	out := func(kind string, msg slack.Message) Message {
		return Message{Channel: d.Channel, SlackChannel: d.SlackChannel, Alert: d.Alert, Message: msg, Thread: kind, ThreadKey: key}
	}
	var cur *threads.Thread
	if th, known := p.threads.Get(d.Channel, key, now); known {
		cur = &th
	}
	dec := threads.Decide(cur, threads.Input{Channel: d.Channel, Spec: spec, Key: key, SlackChannel: d.SlackChannel,
		Event: ev, Line: line, Mention: d.Mention, Now: now})
	if dec.Action == threads.Start {
		p.parents++
		dec.Thread.TS = fmt.Sprintf("dry-run.%06d", p.parents)
		p.threads.Put(context.Background(), dec.Thread)
		return []Message{out("parent", p.r.ThreadStart(dec))}
	}
	p.threads.Put(context.Background(), dec.Thread)
	var msgs []Message
	if dec.Edit {
		msgs = append(msgs, out("edit", p.r.Parent(&dec.Thread)))
	}
	reply, _ := p.r.ThreadReply([]event.Event{*ev}, []string{d.Template}, []threads.Decision{dec})
	return append(msgs, out("reply", reply))
}

// Publish implements pipeline.Sink; the messages are printed as they come.
func (p *printer) Publish() {}

// Sync implements pipeline.Sink: what is printed is flushed.
func (p *printer) Sync() error { return p.w.Flush() }

// Rollback implements pipeline.Sink; a dry run has no state to roll back.
func (p *printer) Rollback() {}
