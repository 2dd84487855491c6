package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"
)

// One table for every way a Slack call fails and every place that says so:
// the CLI, the admin page (Test button, channel cards), the connection's
// log line and dead letters all call Explain or Hint, so what they say
// cannot disagree.
func TestExplain(t *testing.T) {
	slackErr := func(code string) error {
		return fmt.Errorf("chat.postMessage: %w", slackapi.SlackErrorResponse{Err: code})
	}
	for _, c := range []struct {
		name         string
		err          error
		channel, env string
		reason       string
		hint         string // what the hint says; "" for none
		not          string // what it must not say
	}{
		{"not in channel", slackErr("not_in_channel"), "#security", "", "not_in_channel", "invite the bot to #security (/invite @auditfwd in the channel)", ""},
		{"a name without #", slackErr("not_in_channel"), "security", "", "not_in_channel", "invite the bot to #security", ""},
		{"no such channel", slackErr("channel_not_found"), "#x", "", "channel_not_found", "check the channel name #x exists and is public, or use its ID", ""},
		{"an ID stays an ID", slackErr("channel_not_found"), "C0123ABCD", "", "channel_not_found", "C0123ABCD exists", "#C0123ABCD"},
		{"archived", slackErr("is_archived"), "#x", "", "is_archived", "unarchive #x or point the rule at another channel", ""},
		{"restricted", slackErr("restricted_action_read_only_channel"), "#x", "", "restricted_action_read_only_channel", "does not let the bot post in #x", ""},
		{"key management", slackErr("ekm_access_denied"), "#x", "", "ekm_access_denied", "Enterprise Key Management", ""},
		{"revoked token, from the file", slackErr("token_revoked"), "#x", "", "token_revoked", "reconnect Slack on the admin page", "SLACK_BOT_TOKEN"},
		{"wrong token, from the file", slackErr("invalid_auth"), "", "", "invalid_auth", "reconnect Slack on the admin page", ""},
		{"wrong token, from the environment", slackErr("invalid_auth"), "#x", "SLACK_BOT_TOKEN", "invalid_auth",
			"the token comes from SLACK_BOT_TOKEN, which wins over the token file: fix or unset SLACK_BOT_TOKEN (reconnecting on the admin page cannot help while it is set), then restart auditfwd", ""},
		{"revoked token, from the environment", slackErr("token_revoked"), "", "SLACK_BOT_TOKEN", "token_revoked", "fix or unset SLACK_BOT_TOKEN", "reconnect Slack on the admin page"},
		{"missing scope", slackErr("missing_scope"), "#x", "", "missing_scope", "reinstall the app with scopes channels:read,chat:write", "SLACK_BOT_TOKEN"},
		{"missing scope, token from the environment", slackErr("missing_scope"), "#x", "SLACK_BOT_TOKEN", "missing_scope", "put its new bot token in SLACK_BOT_TOKEN", ""},
		{"bad blocks", slackErr("invalid_blocks"), "#x", "", "invalid_blocks", "resent as plain text", ""},
		{"an unknown code", slackErr("something_new"), "#x", "", "something_new", "https://api.slack.com/methods/chat.postMessage#errors for something_new", ""},
		{"a hostile code", slackErr("<script>"), "#x", "", "unknown_error", "for unknown_error", "<script>"},
		{"429", fmt.Errorf("x: %w", &slackapi.RateLimitedError{RetryAfter: 3}), "#x", "", "ratelimited", "Slack is rate limiting; delivery resumes on its own", ""},
		{"5xx", fmt.Errorf("x: %w", slackapi.StatusCodeError{Code: 503}), "#x", "", "http_5xx", "Slack or the network is failing; delivery retries on its own", ""},
		{"Slack's own outage code", slackErr("service_unavailable"), "#x", "", "service_unavailable", "delivery retries on its own", ""},
		{"timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), "#x", "", "timeout", "delivery retries on its own", ""},
		{"network", &url.Error{Op: "Post", URL: "https://slack.com/api", Err: errors.New("connection refused")}, "#x", "", "network", "delivery retries on its own", ""},
		{"a socket error", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, "#x", "", "network", "delivery retries on its own", ""},
		{"stopping", fmt.Errorf("x: %w", context.Canceled), "#x", "", "canceled", "auditfwd is stopping", ""},
		{"not from Slack", errors.New("not connected to Slack: connect on the admin page first"), "#x", "", "not connected to Slack: connect on the admin page first", "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			reason, hint := Explain(c.err, c.channel, c.env)
			if reason != c.reason {
				t.Errorf("reason %q, want %q", reason, c.reason)
			}
			if c.hint == "" && hint != "" || !strings.Contains(hint, c.hint) {
				t.Errorf("hint %q, want it to say %q", hint, c.hint)
			}
			if c.not != "" && strings.Contains(hint, c.not) {
				t.Errorf("hint %q says %q", hint, c.not)
			}
			if c.hint != "" && Hint(reason, c.channel, c.env) != hint {
				t.Errorf("Hint(%q) = %q, Explain said %q", reason, Hint(reason, c.channel, c.env), hint)
			}
		})
	}
}

// String names the class in test failures.
func (c Class) String() string {
	return [...]string{"retry", "permanent", "payload", "auth"}[c]
}
