package delivery

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// Printer is the dry-run Sink: it prints each message it would post as one
// JSON object per line instead of calling Slack.
type Printer struct {
	w       *bufio.Writer
	threads dryRunThreads
}

// NewPrinter writes to w.
func NewPrinter(w io.Writer) *Printer {
	return &Printer{w: bufio.NewWriter(w), threads: newDryRunThreads()}
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
}

// Enqueue implements pipeline.Sink.
func (p *Printer) Enqueue(d rules.Destination, line []byte, _ logpos.Position) (bool, error) {
	ev, err := event.Parse(line)
	if err != nil {
		return false, fmt.Errorf("dry run: %w", err)
	}
	enc := json.NewEncoder(p.w)
	enc.SetEscapeHTML(false) // keep Slack's <!date^…> readable
	msgs := p.threads.messages(d, &ev, line)
	if msgs == nil {
		msg, _ := slack.PackMentioned([]event.Event{ev}, d.Alert, [][]string{d.Mention})
		msgs = []DryRunMessage{{Channel: d.Channel, SlackChannel: d.SlackChannel, Alert: d.Alert, Message: msg}}
	}
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return false, fmt.Errorf("dry run: %w", err)
		}
	}
	return true, nil
}

// Sync implements pipeline.Sink.
func (p *Printer) Sync() error { return p.w.Flush() }

// Rollback implements pipeline.Sink; a dry run has no state to roll back.
func (p *Printer) Rollback() {}
