package main

import (
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/token"
)

// `auditfwd channels` lists what Slack lists, and then names each
// configured channel Slack does not list: a typo, a channel not created
// yet, a private channel given by name.
func TestChannelsNamesConfiguredChannelsSlackDoesNotList(t *testing.T) {
	s := newSlack(t)
	t.Setenv(token.EnvVar, botToken)
	path := configFile(t, "state_dir: "+t.TempDir()+"\nslack:\n  api_url: "+s.URL+"\n"+`channels:
  - name: security
    slack_channel: "#Security"
    actions: [login.complete]
  - name: alerts
    slack_channel: "#alerts"
    actions: [login.oauth_failed]
  - name: alerts-too
    slack_channel: alerts
    actions: [mfa_method.enroll]
  - name: ops
    slack_channel: C0OPS000001
    actions: [release.promote]
  - name: private
    slack_channel: G0PRIVATE01
    actions: [user.update]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-aprovals"
  actions: [deploy_approval_request.create]
`)
	out, errOut, code := cli(t, "", "channels", "--config", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	want := []string{
		"ID           CHANNEL            BOT MEMBER  CONFIGURED AS",
		"C0DEPLOY001  #deploy-approvals  yes         ",
		"C0INFRA0001  #infrastructure    yes         ",
		"C0OPS000001  #ops               yes         ops",
		"C0SECURITY1  #security          yes         security",
		"#alerts (configured as alerts,alerts-too): not found in Slack; create the channel or correct slack_channel (a private channel must be given by its ID); until then its events are dead-lettered",
		"G0PRIVATE01 (configured as private): not found in Slack among the public channels; a private channel works by ID once the bot is in it (check with `auditfwd test private`), else correct slack_channel",
		"#deploy-aprovals (configured as deploy_approval_alerts): not found in Slack; create the channel or correct slack_channel (a private channel must be given by its ID); until then its events are dead-lettered",
	}
	got := lines(out)
	for i := range got {
		got[i] = strings.TrimRight(got[i], " ")
	}
	for i := range want {
		want[i] = strings.TrimRight(want[i], " ")
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("auditfwd channels:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// Every configured channel listed: no such line.
	path = configFile(t, "state_dir: "+t.TempDir()+"\nslack:\n  api_url: "+s.URL+"\n")
	if out, _, code := cli(t, "", "channels", "--config", path); code != 0 || strings.Contains(out, "not found") {
		t.Errorf("the default channels, all in Slack: exit %d\n%s", code, out)
	}
}
