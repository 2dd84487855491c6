package config

import (
	"strings"
	"testing"
	"time"
)

func TestThreadKeys(t *testing.T) {
	cfg, err := Parse([]byte(`channels:
  - name: logins
    slack_channel: "#security"
    actions: ["login.*"]
    thread_by: ip_address
  - name: tokens
    slack_channel: "#security"
    actions: ["api_token.*"]
    thread_by: user_email
    thread_window: 7d
deploy_approval_alerts:
  enabled: true
  thread: false
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Channels[0]; c.ThreadBy != "ip_address" || c.ThreadWindow != 24*time.Hour {
		t.Errorf("thread_by alone: %q %v, want ip_address 24h", c.ThreadBy, c.ThreadWindow)
	}
	if c := cfg.Channels[1]; c.ThreadWindow != 7*24*time.Hour {
		t.Errorf("thread_window 7d = %v", c.ThreadWindow)
	}
	if cfg.DeployApprovalAlerts.Thread {
		t.Error("deploy_approval_alerts.thread: false ignored")
	}

	for _, c := range []struct{ yaml, want string }{
		{"    thread_by: \"\"\n", `c.yaml:5: channel "a": thread_by is empty`},
		{"    thread_window: 1h\n", `c.yaml:5: channel "a": thread_window needs thread_by`},
		{"    thread_by: ip_address\n    thread_window: soon\n", `c.yaml:6: channels[0].thread_window must be a positive duration`},
		{"    thread_by: ip_address\n    thread_window: -1h\n", `c.yaml:6: channels[0].thread_window must be a positive duration`},
	} {
		_, err := Parse([]byte("channels:\n  - name: a\n    slack_channel: \"#a\"\n    actions: [\"*\"]\n"+c.yaml), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
	_, err = Parse([]byte("deploy_approval_alerts:\n  thread: maybe\n"), "c.yaml")
	if err == nil || !strings.Contains(err.Error(), "c.yaml:2: deploy_approval_alerts.thread must be true or false") {
		t.Errorf("thread: maybe: %v", err)
	}
}
