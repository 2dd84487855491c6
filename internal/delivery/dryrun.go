package delivery

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// Printer is the dry-run Sink: it prints each message it would post
// (parents, replies and edits of threads included) instead of calling
// Slack, laid out (redacted, templated) by r as the daemon would.
type Printer struct {
	w        *bufio.Writer
	r        *slack.Renderer
	threads  dryRunThreads
	write    func(w io.Writer, m DryRunMessage) error
	redacted redact.Counts
}

// NewPrinter prints one JSON object per line to w.
func NewPrinter(w io.Writer, r *slack.Renderer) *Printer { return NewPrinterFunc(w, r, writeJSON) }

// NewPrinterFunc prints each message to w with write (the readable form).
func NewPrinterFunc(w io.Writer, r *slack.Renderer, write func(w io.Writer, m DryRunMessage) error) *Printer {
	return &Printer{w: bufio.NewWriter(w), r: r, threads: newDryRunThreads(), write: write}
}

// Redacted is what was redacted in the messages printed so far.
func (p *Printer) Redacted() redact.Counts { return p.redacted }

func writeJSON(w io.Writer, m DryRunMessage) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // keep Slack's <!date^…> readable
	return enc.Encode(m)
}

// DryRunMessage is one printed line.
type DryRunMessage struct {
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

// Enqueue implements pipeline.Sink.
func (p *Printer) Enqueue(d rules.Destination, line []byte, _ logpos.Position) (bool, error) {
	ev, err := event.Parse(line)
	if err != nil {
		return false, fmt.Errorf("dry run: %w", err)
	}
	msgs := p.threads.messages(p.r, d, &ev, line)
	if msgs == nil {
		msg, _ := p.r.Pack([]event.Event{ev}, destRouting(d))
		msgs = []DryRunMessage{{Channel: d.Channel, SlackChannel: d.SlackChannel, Alert: d.Alert, Message: msg}}
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

// destRouting is how one event routed to d is laid out.
func destRouting(d rules.Destination) slack.Routing {
	return slack.Routing{Alert: d.Alert, Mentions: [][]string{d.Mention}, Templates: []string{d.Template}}
}

// Publish implements pipeline.Sink; the messages are printed as they come.
func (p *Printer) Publish() {}

// Sync implements pipeline.Sink.
func (p *Printer) Sync() error { return p.w.Flush() }

// Rollback implements pipeline.Sink; a dry run has no state to roll back.
func (p *Printer) Rollback() {}
