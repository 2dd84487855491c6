package oauthsrv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/token"
	goslack "github.com/slack-go/slack"
)

func TestReconnectWhileTheEnvironmentTokenWinsSaysSo(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TokenOverride = func() string { return token.EnvVar } })
	b := f.admin()
	if r := b.get("/"); !strings.Contains(r.body, `id="env-token"`) || !strings.Contains(r.body, "SLACK_BOT_TOKEN") {
		t.Errorf("the page does not say that SLACK_BOT_TOKEN is in force:\n%s", r.body)
	}
	state := b.startInstall()
	r := b.callback(state, "code-1")
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: status %d; body %s", r.StatusCode, r.body)
	}
	if saved, err := token.Load(f.tokenPath); err != nil || saved.AccessToken != testToken {
		t.Errorf("the new token is not saved for later: %v", err)
	}
	if got := f.daemon.connectedTokens(); len(got) != 0 {
		t.Errorf("the daemon was told to switch tokens although the environment's wins: %v", got)
	}
	page := b.get("/").body
	for _, want := range []string{"token was saved, but SLACK_BOT_TOKEN", "stays in force", "Remove SLACK_BOT_TOKEN", "flash-err"} {
		if !strings.Contains(page, want) {
			t.Errorf("page after the reconnect lacks %q:\n%s", want, page)
		}
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "SLACK_BOT_TOKEN is set and stays in force") || strings.Contains(logs, "slack connected") {
		t.Errorf("log:\n%s", logs)
	}
}

// The Test button's advice for a rejected token is the one slack.Explain
// gives everywhere: with SLACK_BOT_TOKEN in force, fix the variable, not
// a reconnect on this page.
func TestTestButtonWithARejectedEnvironmentTokenNamesTheVariable(t *testing.T) {
	for _, env := range []string{token.EnvVar, ""} {
		f := newFixture(t, func(o *Options) { o.TokenOverride = func() string { return env } })
		f.daemon.mu.Lock()
		f.daemon.testErr["security"] = fmt.Errorf("post test message: %w", goslack.SlackErrorResponse{Err: "invalid_auth"})
		f.daemon.mu.Unlock()
		b := f.admin()
		r := b.pressTest("security", "", http.Header{"Accept": {"application/json"}, "X-Csrf-Token": {b.csrf()}})
		var res testResult
		if err := json.Unmarshal([]byte(r.body), &res); err != nil {
			t.Fatalf("JSON answer: %v: %s", err, r.body)
		}
		want := "reconnect Slack on the admin page"
		if env != "" {
			want = "fix or unset SLACK_BOT_TOKEN"
		}
		if res.Error != "invalid_auth" || !strings.Contains(res.Hint, want) {
			t.Errorf("%s=%q: result %+v, want a hint saying %q", token.EnvVar, env, res, want)
		}
	}
}

func TestNoEnvironmentTokenNoNote(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TokenOverride = func() string { return "" } })
	if r := f.admin().get("/"); strings.Contains(r.body, `id="env-token"`) {
		t.Errorf("the page mentions an environment token that is not set")
	}
}
