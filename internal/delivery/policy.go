package delivery

import (
	"time"

	"github.com/auditfwd/auditfwd/internal/slack"
)

// The delivery policy (docs/guarantees.md): what a sender does after one
// post. It is a pure function of Slack's answer, the retry count and the
// shape of the message, so that it can be read, and tested, in one place;
// the sender carries it out.

// action is what the sender does next.
type action int

const (
	// ack: Slack took the message; drop its events from the spool.
	ack action = iota
	// retry: a transient failure; send the same events again after a wait.
	retry
	// resend: Slack refused the message's payload; send again at once in
	// the next, smaller shape.
	resend
	// hold: Slack rejected the token; post nothing until a new token works.
	hold
	// deadLetter: Slack rejected the events for good; write them to
	// dead-letter.jsonl and go on with the next ones.
	deadLetter
)

// shape is how the next message is built: normally a digest of the waiting
// events with Block Kit blocks. After Slack refused a digest's payload, one
// event per message (single); after it refused one event's blocks, the
// plain text alone (textOnly).
type shape struct {
	single   bool
	textOnly bool
}

// outcome is Slack's answer to one post, as slack.Classify reads it.
type outcome struct {
	ok         bool
	class      slack.Class
	reason     string        // Slack's error code, or http_5xx, timeout, ratelimited…
	retryAfter time.Duration // HTTP 429's Retry-After
}

func outcomeOf(err error) outcome {
	if err == nil {
		return outcome{ok: true}
	}
	class, reason, retryAfter := slack.Classify(err)
	return outcome{class: class, reason: reason, retryAfter: retryAfter}
}

// decision is what the policy says: the action, the shape and retry count
// for the next message, and for retry how long to wait.
type decision struct {
	act     action
	next    shape
	attempt int
	// backoff is the longest wait before a retry; the sender waits a
	// random time between half of it and all of it (jitter).
	backoff time.Duration
	// atLeast is the shortest wait before a retry, whatever the jitter:
	// Slack's Retry-After.
	atLeast time.Duration
}

// noRetryAfterPause is the pause after an HTTP 429 without Retry-After:
// free workspaces answer so when they want a long pause.
const noRetryAfterPause = 10 * time.Second

// decide is the policy. o is Slack's answer to a message of shape cur that
// carried events events; attempt counts the transient failures in a row
// before it; maxBackoff caps the wait.
func decide(o outcome, attempt, events int, cur shape, maxBackoff time.Duration) decision {
	switch {
	case o.ok:
		return decision{act: ack}
	case o.class == slack.Auth:
		return decision{act: hold, next: cur, attempt: attempt}
	case o.class == slack.Permanent:
		return decision{act: deadLetter}
	case o.class == slack.Payload && events > 1:
		return decision{act: resend, next: shape{single: true, textOnly: cur.textOnly}, attempt: attempt}
	case o.class == slack.Payload && !cur.textOnly:
		return decision{act: resend, next: shape{single: cur.single, textOnly: true}, attempt: attempt}
	case o.class == slack.Payload:
		// Even the plain text of one event is refused.
		return decision{act: deadLetter, attempt: attempt}
	}
	d := decision{act: retry, next: cur, attempt: attempt + 1, backoff: backoffCeiling(attempt, maxBackoff), atLeast: o.retryAfter}
	if o.reason == "ratelimited" && o.retryAfter == 0 {
		d.atLeast = noRetryAfterPause
	}
	return d
}

// backoffCeiling is capped exponential: 1s, 2s, 4s … maxBackoff.
func backoffCeiling(attempt int, maxBackoff time.Duration) time.Duration {
	return min(time.Second<<min(attempt, 10), maxBackoff)
}
