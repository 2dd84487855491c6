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

// explain is slack.Explain for a terminal: the reason may be an error's
// text, printed as data.
func explain(err error, slackChannel string) (reason, hint string) {
	reason, hint = slack.Explain(err, slackChannel, token.EnvOverride())
	return termtext.Quote(reason, ""), hint
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
