package rules

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
)

func TestRouteCarriesThreads(t *testing.T) {
	r, err := Compile(&config.Config{Channels: []config.Channel{
		{Name: "all-security", SlackChannel: "#security", Actions: []string{"login.complete"}},
		{Name: "failures", SlackChannel: "#security", Actions: []string{"login.*_failed", "login.complete"}, ThreadBy: "ip_address", ThreadWindow: time.Hour},
		{Name: "infra", SlackChannel: "#infra", Actions: []string{"deploy_approval_request.*"}},
	}, DeployApprovalAlerts: config.DeployApprovalAlerts{Enabled: true, SlackChannel: "#deploy", Actions: []string{"deploy_approval_request.create"}, Thread: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		action string
		want   []Destination
	}{
		// Two rules name #security: the queue is the first's, the thread the threading rule's.
		{"login.complete", []Destination{{Channel: "all-security", SlackChannel: "#security", Thread: "by 1h0m0s ip_address"}}},
		{"login.oauth_failed", []Destination{{Channel: "all-security", SlackChannel: "#security", Thread: "by 1h0m0s ip_address"}}},
		{"deploy_approval_request.create", []Destination{{Channel: "infra", SlackChannel: "#infra"}, {Channel: config.AlertsChannelName, SlackChannel: "#deploy", Alert: true, Thread: "approval"}}},
		// Not in the alert's actions, but a request's event joins its thread.
		{"deploy_approval_request.approve", []Destination{{Channel: "infra", SlackChannel: "#infra"}, {Channel: config.AlertsChannelName, SlackChannel: "#deploy", Alert: true, Thread: "approval"}}},
	} {
		got := r.Route(c.action)
		if len(got) != len(c.want) {
			t.Fatalf("%s: %+v, want %+v", c.action, got, c.want)
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], c.want[i]) {
				t.Errorf("%s: %+v, want %+v", c.action, got[i], c.want[i])
			}
		}
	}

	// Without request threads, the alert's actions alone decide.
	r, err = Compile(&config.Config{DeployApprovalAlerts: config.DeployApprovalAlerts{Enabled: true, SlackChannel: "#deploy", Actions: []string{"deploy_approval_request.create"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Route("deploy_approval_request.approve"); len(got) != 0 {
		t.Errorf("thread off: approve routed to %+v", got)
	}
	if got := r.Route("deploy_approval_request.create"); len(got) != 1 || got[0].Thread != "" {
		t.Errorf("thread off: create routed to %+v", got)
	}
}

func TestLintThreadByRuleOnASharedChannelIsNotDead(t *testing.T) {
	cfg := &config.Config{Path: "c.yaml", Channels: []config.Channel{
		{Name: "security", SlackChannel: "#security", Actions: []string{"login.*"}, Line: 1},
		{Name: "floods", SlackChannel: "#security", Actions: []string{"login.oauth_failed"}, Line: 5, ThreadBy: "ip_address"},
		{Name: "dead", SlackChannel: "#security", Actions: []string{"login.complete"}, Line: 9},
	}}
	ws := Lint(cfg)
	if len(ws) != 1 || ws[0].Line != 9 {
		t.Fatalf("warnings %v: want only the rule without thread_by", ws)
	}
}

// Explain agrees with routing: a request's later event goes to the alert
// channel because it joins the request's thread, and says so.
func TestExplainSaysARequestEventJoinsItsThread(t *testing.T) {
	r, err := Compile(&config.Config{DeployApprovalAlerts: config.DeployApprovalAlerts{Enabled: true, SlackChannel: "#deploy", Actions: []string{"deploy_approval_request.create"}, Thread: true}})
	if err != nil {
		t.Fatal(err)
	}
	var f event.Fields
	line := []byte(`{"action":"deploy_approval_request.approve","resource":"42"}`)
	_, action := event.ClassifyFields(line, &f)
	v := r.Explain(action, &f)
	if len(v) != 1 || !v[0].Matched || !strings.Contains(v[0].String(), "join its thread") {
		t.Fatalf("explain: %+v", v)
	}
	if got := r.Match(action, &f); len(got) != 1 || got[0] != config.AlertsChannelName {
		t.Fatalf("match: %v", got)
	}
}
