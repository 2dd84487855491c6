package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/termtext"
	"github.com/auditfwd/auditfwd/internal/token"
)

// explain is Slack's reason for err and what to do about it. A rejected
// token set by SLACK_BOT_TOKEN cannot be fixed on the admin page: the
// variable wins over whatever the page saves, so the advice says that.
func explain(err error, slackChannel string) (reason, hint string) {
	class, reason, _ := slack.Classify(err)
	reason = termtext.Quote(reason, "") // Slack's words, or a hostile API's
	if env := token.EnvOverride(); class == slack.Auth && env != "" {
		return reason, "the token comes from " + env + ", which wins over the token file: fix or unset " + env +
			" (reconnecting on the admin page cannot help while it is set)"
	}
	return reason, slack.Hint(reason, slackChannel)
}

// unknownChannel is the error for a channel name the config does not have:
// it lists the names it does have and, when the name given is a configured
// Slack channel (`auditfwd test '#security'`), the config name to use.
func unknownChannel(name string, cfg *config.Config) error {
	msg := fmt.Sprintf("no channel named %q in %s", name, cfg.Path)
	var names []string
	meant := ""
	for _, t := range cfg.Targets() {
		names = append(names, t.Name)
		if meant == "" && slackName(t.SlackChannel) == slackName(name) {
			meant = t.Name
		}
	}
	if meant != "" {
		msg += fmt.Sprintf("; %s is the Slack channel of %q, so run `auditfwd test %s`", name, meant, meant)
	}
	if len(names) == 0 {
		return errors.New(msg + "; it configures no channels")
	}
	return errors.New(msg + "; the names it knows: " + strings.Join(names, ", "))
}

func slackName(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "#") }
