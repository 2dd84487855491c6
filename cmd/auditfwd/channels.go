package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// configuredChannels maps each configured Slack channel (slack.ChannelKey) to the
// config names that send to it, and lists the keys in config order.
func configuredChannels(targets []config.Target) (names map[string][]string, order []string) {
	names = map[string][]string{}
	for _, t := range targets {
		k := slack.ChannelKey(t.SlackChannel)
		if _, ok := names[k]; !ok {
			order = append(order, k)
		}
		names[k] = append(names[k], t.Name)
	}
	return names, order
}

// printUnlisted writes one line per configured channel that Slack does not
// list: its events would be dead-lettered as channel_not_found.
func printUnlisted(w io.Writer, targets []config.Target, listed []slack.Channel) {
	seen := map[string]bool{}
	for _, c := range listed {
		seen[c.ID], seen[strings.ToLower(c.Name)] = true, true
	}
	names, order := configuredChannels(targets)
	for _, k := range order {
		if seen[k] {
			continue
		}
		as := strings.Join(names[k], ",")
		if slack.IsChannelID(k) {
			fmt.Fprintf(w, "%s (configured as %s): not found in Slack among the public channels; a private channel works by ID once the bot is in it (check with `auditfwd test %s`), else correct slack_channel\n",
				k, as, names[k][0])
			continue
		}
		fmt.Fprintf(w, "#%s (configured as %s): not found in Slack; create the channel or correct slack_channel (a private channel must be given by its ID); until then its events are dead-lettered\n", k, as)
	}
}
