package dryrun

import (
	"fmt"
	"io"
	"strings"

	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/termtext"
)

// writeText prints one readable line per message, what would go where:
//
//	security → #security: 🚨 login.oauth_failed · User: mallory@example.net · Status: failed
//	deploy_approval_alerts → #deploy-approvals (edit of thread deploy_approval_request=42): …
func writeText(w io.Writer, m Message) error {
	where := m.SlackChannel
	key := termtext.Quote(m.ThreadKey, ")") // it holds a value from the log
	switch m.Thread {
	case "parent":
		where += " (new thread " + key + ")"
	case "reply":
		where += " (reply in thread " + key + ")"
	case "edit":
		where += " (edit of thread " + key + ")"
	}
	line := headline(m.Message)
	if len(m.Redacted) > 0 {
		line += " · redacted: " + countList(m.Redacted)
	}
	_, err := fmt.Fprintf(w, "%s → %s: %s\n", m.Channel, where, line)
	return err
}

var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// headline is a message in one line, as a person scans it: its heading (the
// alert's, then the event's), the user and the status, from the plain text
// that notifications show. Values are as Slack would display them
// (slack.Value: line breaks made spaces, control characters escaped).
func headline(m slack.Message) string {
	lines := strings.Split(m.Text, "\n")
	parts := []string{lines[0]}
	for i, l := range lines[1:] {
		if l == "" {
			continue
		}
		heading := i == 0 && !strings.Contains(l, ": ") // an alert's event heading
		if heading || strings.HasPrefix(l, "User: ") || strings.HasPrefix(l, "Status: ") {
			parts = append(parts, l)
		}
	}
	// slack.Value escaped the values' control characters already; Quote
	// keeps the line safe for a terminal whatever the layout adds.
	return termtext.Quote(unescape.Replace(strings.Join(parts, " · ")), "")
}
