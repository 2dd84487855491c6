// Package status is how a configured channel's delivery state travels from
// delivery to the admin page: one type both sides share, so nothing copies
// it field by field on the way. It holds data only; it does no work.
package status

import (
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
)

// Channel is what the admin page shows for one configured channel or for the
// deploy approval alert (Alert true).
type Channel struct {
	config.Target
	LastResult  string // "ok", a Slack reason such as "not_in_channel", or "" (nothing sent yet)
	LastTime    time.Time
	LastHint    string // plain-words advice for LastResult
	Queue       int    // events waiting to be delivered
	DeadLetters int    // events in dead-letter.jsonl waiting for `auditfwd redeliver`
	OpenThreads int    // Slack threads it remembers (docs/threads.md)
}
