package delivery

import (
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/slack"
)

func TestDecide(t *testing.T) {
	const maxB = 30 * time.Second
	fail := func(class slack.Class, reason string) outcome { return outcome{class: class, reason: reason} }
	digest, single, text := shape{}, shape{single: true}, shape{single: true, textOnly: true}
	for _, c := range []struct {
		name    string
		o       outcome
		attempt int
		events  int
		cur     shape
		want    decision
	}{
		{"delivered: back to full digests", outcome{ok: true}, 3, 5, text, decision{act: ack}},
		{"token rejected: hold, keep the shape", fail(slack.Auth, "token_revoked"), 2, 5, single, decision{act: hold, next: single, attempt: 2}},
		{"channel problem: dead letter, start over", fail(slack.Permanent, "not_in_channel"), 4, 5, single, decision{act: deadLetter}},
		{"digest too big: one event per message", fail(slack.Payload, "msg_blocks_too_long"), 1, 5, digest, decision{act: resend, next: single, attempt: 1}},
		{"one event's blocks refused: text only", fail(slack.Payload, "invalid_blocks"), 1, 1, single, decision{act: resend, next: text, attempt: 1}},
		{"a digest of one refused: text only, still a digest", fail(slack.Payload, "invalid_blocks"), 0, 1, digest, decision{act: resend, next: shape{textOnly: true}}},
		{"even the text refused: dead letter", fail(slack.Payload, "msg_too_long"), 2, 1, text, decision{act: deadLetter, attempt: 2}},
		{"a text-only digest refused: one event", fail(slack.Payload, "msg_too_long"), 0, 3, shape{textOnly: true}, decision{act: resend, next: text}},
		{"5xx: retry after 1 s at first", fail(slack.Retry, "http_5xx"), 0, 5, digest, decision{act: retry, attempt: 1, backoff: time.Second}},
		{"5xx again: the wait doubles, shape kept", fail(slack.Retry, "timeout"), 3, 1, single, decision{act: retry, next: single, attempt: 4, backoff: 8 * time.Second}},
		{"the wait is capped", fail(slack.Retry, "network"), 40, 5, digest, decision{act: retry, attempt: 41, backoff: maxB}},
		{"429 with Retry-After: at least that", outcome{class: slack.Retry, reason: "ratelimited", retryAfter: 42 * time.Second}, 0, 5, digest,
			decision{act: retry, attempt: 1, backoff: time.Second, atLeast: 42 * time.Second}},
		{"429 without Retry-After: a long pause", fail(slack.Retry, "ratelimited"), 0, 5, digest,
			decision{act: retry, attempt: 1, backoff: time.Second, atLeast: noRetryAfterPause}},
	} {
		if got := decide(c.o, c.attempt, c.events, c.cur, maxB); got != c.want {
			t.Errorf("%s: decide = %+v (%v), want %+v (%v)", c.name, got, got.act, c.want, c.want.act)
		}
	}
}

// String names the action in test failures.
func (a action) String() string {
	return [...]string{"ack", "retry", "resend", "hold", "dead-letter"}[a]
}
