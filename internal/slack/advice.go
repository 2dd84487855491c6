package slack

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// Explain is a failed Slack call in an operator's words: Slack's reason (as
// Classify names it) and what to do about it (Hint). An error that came
// neither from Slack nor from the network ("not connected", a standby's
// refusal) is its own reason, with no hint. slackChannel is the channel the
// call was for ("" when none); tokenEnv names the environment variable the
// bot token comes from ("" for the token file). Every place that shows a
// Slack failure to a person (the CLI, the admin page's Test button and
// channel cards, the log, dead letters) explains it here, so they agree.
func Explain(err error, slackChannel, tokenEnv string) (reason, hint string) {
	_, reason, _ = Classify(err)
	if reason == "network" {
		var ne net.Error
		var ue *url.Error
		if !errors.As(err, &ne) && !errors.As(err, &ue) {
			return err.Error(), ""
		}
	}
	return reason, Hint(reason, slackChannel, tokenEnv)
}

// Hint says what to do about a failure reason (Classify's) for a Slack
// channel (a name such as "#security" or an ID; "" when none). tokenEnv
// names the environment variable the bot token comes from, "" for the
// token file: a rejected token there cannot be fixed on the admin page,
// because the variable wins over whatever the page saves.
func Hint(reason, slackChannel, tokenEnv string) string {
	ch := displayChannel(slackChannel)
	class, _, _ := classifyCode(reason)
	switch {
	case reason == "not_in_channel":
		return "invite the bot to " + ch + " (/invite @auditfwd in the channel)"
	case reason == "channel_not_found":
		return "check the channel name " + ch + " exists and is public, or use its ID"
	case reason == "is_archived":
		return "unarchive " + ch + " or point the rule at another channel"
	case strings.HasPrefix(reason, "restricted_action"):
		return "the workspace does not let the bot post in " + ch + "; ask a Slack admin or point the rule at another channel"
	case reason == "ekm_access_denied":
		return "the workspace's Enterprise Key Management blocks posting in " + ch + "; ask a Slack admin"
	case reason == "missing_scope" && tokenEnv != "":
		return "reinstall the app with scopes channels:read,chat:write and put its new bot token in " + tokenEnv + " (it wins over the token file), then restart auditfwd"
	case reason == "missing_scope":
		return "reinstall the app with scopes channels:read,chat:write"
	case reason == "ratelimited":
		return "Slack is rate limiting; delivery resumes on its own"
	case reason == "http_5xx", reason == "http_4xx", reason == "timeout", reason == "network",
		reason == "service_unavailable", reason == "fatal_error", reason == "request_timeout", reason == "internal_error":
		return "Slack or the network is failing; delivery retries on its own"
	case reason == "canceled":
		return "the request was cancelled (auditfwd is stopping); it is retried on the next start"
	case class == Auth && tokenEnv != "":
		return "the token comes from " + tokenEnv + ", which wins over the token file: fix or unset " + tokenEnv +
			" (reconnecting on the admin page cannot help while it is set), then restart auditfwd"
	case class == Auth:
		return "reconnect Slack on the admin page"
	case class == Payload:
		return "Slack rejected the message format; it is resent as plain text (please report this)"
	}
	return "see https://api.slack.com/methods/chat.postMessage#errors for " + reason
}
