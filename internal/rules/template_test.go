package rules

import (
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
)

// An event is shown as the first matching rule for its Slack channel that
// has a template says, whichever rule owns the queue.
func TestDestinationNamesTheFirstMatchingRuleWithATemplate(t *testing.T) {
	plain := ch("security", "#security", "login.*")
	failures := ch("failures", "#security", "login.*")
	failures.Where = []config.Condition{{Field: "status", Globs: []string{"failed"}}}
	failures.Template = &config.Template{Title: "{{.user_email}} failed"}
	other := ch("other", "#security", "login.*")
	other.Template = &config.Template{Fields: []string{"user"}}
	ops := ch("ops", "#ops", "login.*")
	ops.Template = &config.Template{Title: "ops {{.action}}"}
	r := mustCompile(t, []config.Channel{plain, failures, other, ops}, config.DeployApprovalAlerts{})
	for line, want := range map[string]map[string]string{
		`{"action":"login.oauth_failed","status":"failed"}`:    {"#security": "failures", "#ops": "ops"},
		`{"action":"login.complete","status":"success"}`:       {"#security": "other", "#ops": "ops"},
		`{"action":"login.complete","status":"success","x":1}`: {"#security": "other", "#ops": "ops"},
	} {
		got := map[string]string{}
		for _, d := range routeLine(r, line) {
			got[d.SlackChannel] = d.Template
			if d.SlackChannel == "#security" && d.Channel != "security" {
				t.Errorf("queue %s, want security (the first rule naming the channel)", d.Channel)
			}
		}
		if len(got) != len(want) || got["#security"] != want["#security"] || got["#ops"] != want["#ops"] {
			t.Errorf("%s: templates %v, want %v", line, got, want)
		}
	}
}
