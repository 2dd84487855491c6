package oauthsrv

import (
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
)

func TestAlertCardSaysWhetherThreadsAreOnAndHowManyAreOpen(t *testing.T) {
	f := newFixture(t, nil)
	f.daemon.channels = append(f.daemon.channels, delivery.ChannelStatus{Target: config.Target{Name: "deploy_approval_alerts", SlackChannel: "#deploy-approvals",
		Patterns: []string{"deploy_approval_request.create"}, Alert: true, Threads: "request"}, OpenThreads: 3})
	body := f.admin().get("/").body
	card := body[strings.Index(body, `id="channel-deploy_approval_alerts"`):]
	if !strings.Contains(card, "on, one per request · 3 open") {
		t.Errorf("alert card lacks the threads line:\n%s", card)
	}

	f.daemon.channels[len(f.daemon.channels)-1].Threads = ""
	body = f.admin().get("/").body
	card = body[strings.Index(body, `id="channel-deploy_approval_alerts"`):]
	if !strings.Contains(card, `<dt>Threads</dt><dd class="threads">off</dd>`) {
		t.Errorf("alert card does not say threads are off:\n%s", card)
	}
}
