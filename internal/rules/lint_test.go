package rules

import (
	"reflect"
	"slices"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
)

func TestCatalog(t *testing.T) {
	cat := Catalog()
	if len(cat) != 77 {
		t.Errorf("catalog has %d actions, want 77", len(cat))
	}
	for _, a := range []string{"login.complete", "logout", "mfa.verify.failed", "rack.params.set", "audit.export", "user.update_roles", "mfa_method.deleted"} {
		if !slices.Contains(cat, a) {
			t.Errorf("catalog lacks %q", a)
		}
	}
	seen := map[string]bool{}
	for _, a := range cat {
		if seen[a] {
			t.Errorf("duplicate %q", a)
		}
		seen[a] = true
	}
	cat[0] = "mutated"
	if Catalog()[0] == "mutated" {
		t.Error("Catalog returns shared memory")
	}
}

func TestSuggest(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"lgoin.*", "login.*"},
		{"lgoin.*_failed", "login.*_failed"},
		{"login.complte", "login.complete"},
		{"relase.promote", "release.promote"},
		{"deploy_aproval_request.*", "deploy_approval_request.*"},
		{"api_tokens.*", "api_token.*"},
		{"logut", "logout"},
		{"billing.invoice", ""},
		{"zzz.*", ""},
		{"x", ""},
	} {
		if got := closestKnown(tt.in); got != tt.want {
			t.Errorf("closestKnown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func lint(t *testing.T, src string) []string {
	t.Helper()
	cfg, err := config.Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var out []string
	for _, w := range Lint(cfg) {
		out = append(out, w.String())
	}
	return out
}

func TestLint(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"clean", `
channels:
  - name: security
    slack_channel: "#security"
    actions: [login.*, user.update, user.update_roles, "*.delete"]
  - name: infra
    slack_channel: "#infra"
    actions: [release.promote]
deploy_approval_alerts:
  enabled: true
  actions: [deploy_approval_request.create]
`, nil},
		{"typo with suggestion", `
channels:
  - name: security
    slack_channel: "#security"
    actions:
      - login.complete
      - lgoin.*
`, []string{`c.yaml:7: warning: pattern "lgoin.*" matches no known gateway action; did you mean "login.*"?`}},
		{"unknown action without suggestion", `
channels:
  - name: billing
    slack_channel: "#billing"
    actions: [invoice.paid, "*.refunded_twice"]
`, []string{`c.yaml:5: warning: pattern "invoice.paid" matches no known gateway action`,
			`c.yaml:5: warning: pattern "*.refunded_twice" matches no known gateway action`}},
		{"update_roles without update", `
channels:
  - name: security
    slack_channel: "#security"
    actions:
      - login.complete
      - user.update_roles
`, []string{`c.yaml:7: warning: role changes are logged as user.update (roles are in the event's details); user.update_roles is only named in the docs — add user.update`}},
		{"update_roles via pattern without update", `
channels:
  - name: security
    slack_channel: "#security"
    actions: ["user.update_*"]
`, []string{`c.yaml:5: warning: role changes are logged as user.update (roles are in the event's details); user.update_roles is only named in the docs — add user.update`}},
		{"update_roles with user.*", `
channels:
  - name: security
    slack_channel: "#security"
    actions: [user.update_roles, "user.*"]
`, nil},
		{"rule shadowed by an earlier rule on the same Slack channel", `
channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*", "mfa*"]
  - name: login-failures
    slack_channel: security
    actions: ["login.*_failed", mfa.verify.failed, login.user_not_authorized]
  - name: other
    slack_channel: "#other"
    actions: ["login.*"]
`, []string{`c.yaml:6: warning: channel "login-failures" can never fire: every action it matches already goes to Slack channel "security" through channel "security", which comes first`}},
		{"shadowed by the union of two earlier rules", `
channels:
  - name: a
    slack_channel: "#s"
    actions: ["app.*"]
  - name: b
    slack_channel: "#s"
    actions: ["build.*"]
  - name: c
    slack_channel: "#s"
    actions: ["[ab]*.list"]
`, []string{`c.yaml:9: warning: channel "c" can never fire: every action it matches already goes to Slack channel "#s" through channels "a" and "b", which come first`}},
		{"identical later rule", `
channels:
  - name: a
    slack_channel: "#s"
    actions: [custom.thing]
  - name: b
    slack_channel: "#s"
    actions: [custom.thing]
`, []string{`c.yaml:5: warning: pattern "custom.thing" matches no known gateway action`,
			`c.yaml:6: warning: channel "b" can never fire: every action it matches already goes to Slack channel "#s" through channel "a", which comes first`,
			`c.yaml:8: warning: pattern "custom.thing" matches no known gateway action`}},
		{"star covers everything, even unknown patterns", `
channels:
  - name: all
    slack_channel: "#s"
    actions: ["*"]
  - name: b
    slack_channel: "#s"
    actions: [logout]
`, []string{`c.yaml:6: warning: channel "b" can never fire: every action it matches already goes to Slack channel "#s" through channel "all", which comes first`}},
		{"earlier rule partly covered is fine; later broader rule is fine", `
channels:
  - name: narrow
    slack_channel: "#s"
    actions: [logout]
  - name: broad
    slack_channel: "#s"
    actions: ["log*"]
`, nil},
		{"different Slack channels never shadow", `
channels:
  - name: a
    slack_channel: "#a"
    actions: ["*"]
  - name: b
    slack_channel: "#b"
    actions: [logout]
`, nil},
		{"rule shadowed by the deploy approval alert", `
channels:
  - name: approvals
    slack_channel: "#deploy-approvals"
    actions: [deploy_approval_request.create]
deploy_approval_alerts:
  enabled: true
`, []string{`c.yaml:3: warning: channel "approvals" can never fire: every action it matches already goes to Slack channel "#deploy-approvals" through deploy_approval_alerts (alerts win a shared Slack channel)`}},
		{"shadowed by an earlier rule and the alert together", `
channels:
  - name: first
    slack_channel: "#d"
    actions: [deploy_approval_request.approve]
  - name: second
    slack_channel: "#d"
    actions: ["deploy_approval_request.[ac]*e"]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#d"
  actions: [deploy_approval_request.create]
`, []string{`c.yaml:6: warning: channel "second" can never fire: every action it matches already goes to Slack channel "#d" through channel "first", which comes first and deploy_approval_alerts (alerts win a shared Slack channel)`}},
		{"alert typo", `
channels: []
deploy_approval_alerts:
  enabled: true
  actions:
    - deploy_approval_request.craete
`, []string{`c.yaml:6: warning: pattern "deploy_approval_request.craete" matches no known gateway action; did you mean "deploy_approval_request.create"?`}},
		{"disabled alerts are not linted", `
channels: []
deploy_approval_alerts:
  enabled: false
  actions: [nonsense.here]
`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lint(t, tt.src); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Lint:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// The built-in default channels pass the strictest check: no warning.
func TestLintDefaults(t *testing.T) {
	if got := lint(t, ""); len(got) != 0 {
		t.Errorf("Lint(defaults) = %q, want no warning", got)
	}
}

func TestWarningString(t *testing.T) {
	for _, tt := range []struct {
		w    Warning
		want string
	}{
		{Warning{"f", 3, "m"}, "f:3: warning: m"},
		{Warning{"f", 0, "m"}, "f: warning: m"},
		{Warning{"", 3, "m"}, "line 3: warning: m"},
		{Warning{"", 0, "m"}, "warning: m"},
	} {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.w, got, tt.want)
		}
	}
}

func TestDiff(t *testing.T) {
	old := defaultRules(t, false)
	cur := mustCompile(t, []config.Channel{
		ch("security", "#security", "login.*", "mfa_method.*", "user.update", "user.update_roles", "api_token.*"),
		ch("infrastructure", "#infrastructure", "deploy_approval_request.*", "release.promote"),
	}, alertsOn("#deploy-approvals", "deploy_approval_request.create"))
	got := Diff(old, cur, []string{"login.custom", "logout"})
	want := []Change{
		{Action: "deploy_approval_request.create", Old: []string{"infrastructure"}, New: []string{"infrastructure", "deploy_approval_alerts"}},
		{Action: "login.custom", Old: nil, New: []string{"security"}},
		{Action: "login.start", Old: nil, New: []string{"security"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n got %+v\nwant %+v", got, want)
	}
	if d := Diff(old, old, nil); d != nil {
		t.Errorf("Diff of identical rules = %+v", d)
	}
	// Reordering channels changes no set of names.
	swapped := mustCompile(t, []config.Channel{ch("b", "#b", "*"), ch("a", "#a", "*")}, config.DeployApprovalAlerts{})
	orig := mustCompile(t, []config.Channel{ch("a", "#a", "*"), ch("b", "#b", "*")}, config.DeployApprovalAlerts{})
	if d := Diff(orig, swapped, nil); d != nil {
		t.Errorf("Diff after reorder = %+v", d)
	}
	// nil rules route nothing.
	if d := Diff(nil, orig, nil); len(d) != len(Catalog()) {
		t.Errorf("Diff(nil, all) has %d changes, want %d", len(d), len(Catalog()))
	}
}
