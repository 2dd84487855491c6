package dryrun

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// textPrinter prints one readable line per message:
//
//	security → #security: 🚨 login.oauth_failed · User: mallory@example.net · Status: failed
type textPrinter struct{ w *bufio.Writer }

func newTextPrinter(w io.Writer) *textPrinter { return &textPrinter{w: bufio.NewWriter(w)} }

func (p *textPrinter) Enqueue(d rules.Destination, line []byte, _ logpos.Position) (bool, error) {
	ev, err := event.Parse(line)
	if err != nil {
		return false, fmt.Errorf("dry run: %w", err)
	}
	msg, _ := slack.Pack([]event.Event{ev}, d.Alert)
	if _, err := fmt.Fprintf(p.w, "%s → %s: %s\n", d.Channel, d.SlackChannel, Headline(msg)); err != nil {
		return false, fmt.Errorf("dry run: %w", err)
	}
	return true, nil
}

func (p *textPrinter) Sync() error { return p.w.Flush() }

// Rollback: a dry run has no state to roll back.
func (p *textPrinter) Rollback() {}

var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// Headline is a message in one line, as a person scans it: its heading (the
// alert's, then the event's), the user and the status, from the plain text
// that notifications show. Values are as Slack would display them; control
// characters were already made spaces by the message layout.
func Headline(m slack.Message) string {
	lines := strings.Split(m.Text, "\n")
	parts := []string{lines[0]}
	for i, l := range lines[1:] {
		heading := i == 0 && !strings.Contains(l, ": ") // an alert's event heading
		if heading || strings.HasPrefix(l, "User: ") || strings.HasPrefix(l, "Status: ") {
			parts = append(parts, l)
		}
	}
	return unescape.Replace(strings.Join(parts, " · "))
}
