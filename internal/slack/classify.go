package slack

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	slackapi "github.com/slack-go/slack"
)

// Class says what the caller should do with a failed request.
type Class int

const (
	// Retry: a transient problem (5xx, timeout, network, rate limit); retry
	// the same message with backoff, honouring the retryAfter hint.
	Retry Class = iota
	// Permanent: Slack rejects the message for this channel for good
	// (channel_not_found, not_in_channel, is_archived, unknown codes): dead
	// letter it with the reason.
	Permanent
	// Payload: the message itself is bad (too long, invalid blocks): shrink
	// it or fall back to TextOnly.
	Payload
	// Auth: the token is invalid, revoked or lacks a scope: hold delivery
	// until a new token arrives.
	Auth
)

// codeClass maps Slack error codes to classes; codes not listed are Permanent.
var codeClass = map[string]Class{
	// payload: our message is bad
	"msg_too_long":          Payload,
	"msg_blocks_too_long":   Payload,
	"invalid_blocks":        Payload,
	"invalid_blocks_format": Payload,
	"no_text":               Payload,
	"too_many_attachments":  Payload,
	"invalid_attachments":   Payload,
	// token: hold until reconnected
	"invalid_auth":            Auth,
	"not_authed":              Auth,
	"token_revoked":           Auth,
	"token_expired":           Auth,
	"account_inactive":        Auth,
	"missing_scope":           Auth,
	"no_permission":           Auth,
	"not_allowed_token_type":  Auth,
	"team_access_not_granted": Auth,
	// transient
	"service_unavailable":    Retry,
	"fatal_error":            Retry,
	"request_timeout":        Retry,
	"internal_error":         Retry,
	"ratelimited":            Retry,
	"rate_limited":           Retry,
	"message_limit_exceeded": Retry,
}

// Classify maps an error from Post, ListChannels, AuthTest, Exchange or
// Resolve to a class, a metrics reason and a wait hint. The reason is the
// Slack error code ("channel_not_found", "invalid_auth", …) or one of
// "ratelimited", "http_5xx", "http_4xx", "timeout", "network" (and
// "canceled" when the caller's context was cancelled). retryAfter > 0 only
// for HTTP 429 with Retry-After. A nil error gives (Retry, "", 0).
func Classify(err error) (class Class, reason string, retryAfter time.Duration) {
	if err == nil {
		return Retry, "", 0
	}
	var rl *slackapi.RateLimitedError
	if errors.As(err, &rl) {
		return Retry, "ratelimited", max(rl.RetryAfter, 0)
	}
	var se slackapi.SlackErrorResponse
	if errors.As(err, &se) {
		return classifyCode(se.Err)
	}
	var sep *slackapi.SlackErrorResponse
	if errors.As(err, &sep) && sep != nil {
		return classifyCode(sep.Err)
	}
	var sc slackapi.StatusCodeError
	if errors.As(err, &sc) {
		switch {
		case sc.Code == http.StatusTooManyRequests:
			return Retry, "ratelimited", 0
		case sc.Code >= 500:
			return Retry, "http_5xx", 0
		default:
			return Retry, "http_4xx", 0
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return Retry, "timeout", 0
	}
	if errors.Is(err, context.Canceled) {
		return Retry, "canceled", 0
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Retry, "timeout", 0
	}
	return Retry, "network", 0
}

func classifyCode(code string) (Class, string, time.Duration) {
	code = sanitizeCode(code)
	switch code {
	case "ratelimited", "rate_limited", "message_limit_exceeded":
		return Retry, "ratelimited", 0
	}
	if c, ok := codeClass[code]; ok {
		return c, code, 0
	}
	// Channel problems (not_in_channel, channel_not_found, is_archived,
	// restricted_action*, ekm_access_denied) and codes we do not know: the
	// message lands in dead letters with Slack's reason.
	return Permanent, code, 0
}

// sanitizeCode keeps a metrics label bounded: Slack's codes are short
// snake_case words; anything else becomes "unknown_error".
func sanitizeCode(code string) string {
	if code == "" || len(code) > 64 {
		return "unknown_error"
	}
	for _, r := range code {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return "unknown_error"
		}
	}
	return code
}

func displayChannel(c string) string {
	if c == "" || c[0] == '#' || channelID.MatchString(c) {
		return c
	}
	return "#" + c
}
