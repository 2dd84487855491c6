package pgsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// BrokenAction is the action of the alert event a break in the chain
// becomes.
const BrokenAction = "auditfwd.chain_broken"

// Break is one place where the chain does not hold: the rows between
// LastGood and FirstAfter are missing (a gap), or FirstAfter's
// previous_hash is not LastGood's event_hash (a broken link).
type Break struct {
	LastGood   int64 // -1: the table does not start at chain index 0
	FirstAfter int64
	Missing    int64 // rows missing in a gap; 0 for a broken link
	At         time.Time
}

// Reason says what is wrong, in a sentence.
func (b Break) Reason() string {
	switch {
	case b.Missing == 0:
		return fmt.Sprintf("the previous_hash of row %d is not the event_hash of row %d: a row was changed or replaced, or the table restored from another backup", b.FirstAfter, b.LastGood)
	case b.LastGood < 0:
		return fmt.Sprintf("the chain does not start at chain_index 0: rows 0 to %d are missing", b.FirstAfter-1)
	case b.Missing == 1:
		return fmt.Sprintf("row %d is missing between rows %d and %d: it was deleted, or the table restored from an older backup", b.LastGood+1, b.LastGood, b.FirstAfter)
	}
	return fmt.Sprintf("rows %d to %d (%d rows) are missing between rows %d and %d: they were deleted, or the table restored from an older backup",
		b.LastGood+1, b.FirstAfter-1, b.Missing, b.LastGood, b.FirstAfter)
}

// brokenEvent is the alert's event line; its keys in alphabetical order,
// like every line. Its content depends only on the break, so every
// instance that finds it writes the same line.
type brokenEvent struct {
	Action     string `json:"action"`
	ActionType string `json:"action_type"`
	FirstAfter int64  `json:"first_index_after"`
	LastGood   *int64 `json:"last_good_index,omitempty"`
	Missing    int64  `json:"missing_rows,omitempty"`
	Reason     string `json:"reason"`
	Resource   string `json:"resource"`
	Type       string `json:"resource_type"`
	Status     string `json:"status"`
	Timestamp  string `json:"timestamp"`
}

// Event is the auditfwd.chain_broken alert event (status alert) as an
// audit line; its time is the first row after the break's.
func (b Break) Event() []byte {
	e := brokenEvent{
		Action: BrokenAction, ActionType: "security", FirstAfter: b.FirstAfter, Missing: b.Missing,
		Reason: b.Reason(), Resource: "audit.audit_event", Type: "table", Status: "alert",
		Timestamp: b.At.UTC().Format(time.RFC3339Nano),
	}
	if b.LastGood >= 0 {
		e.LastGood = &b.LastGood
	}
	line, _ := json.Marshal(e)
	return line
}

// chain follows the chain row by row.
type chain struct {
	last     int64  // chain index of the last row checked; -1 before row 0
	lastHash []byte // its event_hash; nil when unknown (its link is not checked)
}

// check verifies r against the row before it and moves on to r. It
// returns the break found just before r, if any.
func (c *chain) check(r *Row) (Break, bool) {
	b := Break{LastGood: c.last, FirstAfter: r.ChainIndex, At: r.Timestamp}
	broken := false
	switch {
	case r.ChainIndex != c.last+1:
		b.Missing = r.ChainIndex - c.last - 1
		broken = true
	case c.lastHash != nil && !bytes.Equal(r.PreviousHash, c.lastHash):
		broken = true
	}
	c.last, c.lastHash = r.ChainIndex, r.EventHash
	return b, broken
}
