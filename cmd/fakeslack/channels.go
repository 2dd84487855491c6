package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// fakeChannel is a public channel of the fake workspace; the bot is in each.
type fakeChannel struct{ id, name string }

// knownIDs keeps the IDs the fake has always given its first channels.
var knownIDs = map[string]string{
	"security":         "C0SECURITY1",
	"infrastructure":   "C0INFRA0001",
	"deploy-approvals": "C0DEPLOY001",
}

// defaultChannels are the channels without -config: those of auditfwd's
// default rules and the deploy approval alerts.
func defaultChannels() []fakeChannel {
	return addChannels(nil, []string{"security", "infrastructure", "deploy-approvals"})
}

// configChannels are the Slack channels cfg names: every rule's, and the
// deploy approval alerts' whether enabled or not (turning them on later
// needs no restart of the fake).
func configChannels(cfg *config.Config) []fakeChannel {
	var names []string
	for _, ch := range cfg.Channels {
		names = append(names, ch.SlackChannel)
	}
	return addChannels(nil, append(names, cfg.DeployApprovalAlerts.SlackChannel))
}

// addChannels adds channels given as "#name", "name" or an ID, each once.
// A name gets an ID of its own; an ID is also its (lower-case) name.
func addChannels(chans []fakeChannel, given []string) []fakeChannel {
	have := map[string]bool{}
	for _, c := range chans {
		have[c.id], have[c.name] = true, true
	}
	for _, g := range given {
		k := slack.ChannelKey(g)
		if k == "" || have[k] {
			continue
		}
		c := fakeChannel{id: knownIDs[k], name: k}
		switch {
		case slack.IsChannelID(k):
			c = fakeChannel{id: k, name: strings.ToLower(k)}
		case c.id == "":
			for n := len(chans) + 1; c.id == "" || have[c.id]; n++ {
				c.id = fmt.Sprintf("C0LOCAL%04d", n)
			}
		}
		have[c.id], have[c.name] = true, true
		chans = append(chans, c)
	}
	return chans
}

// apiAddr is the host:port the config's slack.api_url names, which the
// fake must serve for auditfwd to reach it.
func apiAddr(cfg *config.Config) (string, error) {
	u, err := url.Parse(cfg.Slack.APIURL)
	if err != nil || u.Scheme != "http" || u.Port() == "" || u.Path != "/api/" {
		return "", fmt.Errorf("%s: slack.api_url is %s, not the fake's http://HOST:PORT/api/; point it at the fake (examples/local.yaml does) or give -listen", cfg.Path, cfg.Slack.APIURL)
	}
	return u.Host, nil
}
