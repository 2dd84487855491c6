package delivery

import (
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
)

// ChannelStatus is a configured channel's delivery state (Statuses), as the
// admin page shows it for a channel or for the deploy approval alert
// (Alert true). It holds data only.
type ChannelStatus struct {
	config.Target
	LastResult  string // "ok", a Slack reason such as "not_in_channel", or "" (nothing sent yet)
	LastTime    time.Time
	LastHint    string // plain-words advice for LastResult
	Queue       int    // events waiting to be delivered
	DeadLetters int    // events in dead-letter.jsonl waiting for `auditfwd redeliver`
	OpenThreads int    // Slack threads it remembers (docs/threads.md)
}
