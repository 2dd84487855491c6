package main

import (
	"fmt"
	"strings"
	"testing"
)

// whereConfig sends failures of people to the on-call group, beside the
// plain security channel, and denied RBAC decisions to their own channel.
const whereConfig = `channels:
  - name: security
    slack_channel: "#security"
    actions: [login.complete, "login.*_failed", login.user_not_authorized, "mfa_method.*", user.update, "api_token.*"]
    where:
      user_email: ["!ci@*"]
  - name: security-oncall
    slack_channel: "#security"
    actions: ["login.*", "mfa_method.*"]
    where:
      status: [failed, denied, error]
    mention: [S0123ABCD, here]
  - name: rbac-denied
    slack_channel: "#security"
    actions: ["*"]
    where:
      rbac_decision: [deny]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions: ["deploy_approval_request.*", release.promote]
    where:
      api_token_name: [""]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create]
  mention: [U024BE7LH]
`

func TestRouteKeyValues(t *testing.T) {
	path := configFile(t, whereConfig)
	out, errOut, code := cli(t, "", "route", "--config", path,
		"login.oauth_failed", "status=failed", "user_email=a@b.c",
		"login.oauth_failed", "status=failed", "user_email=ci@example.com",
		"login.complete",
		"release.promote", "api_token_name=ci-deployer",
		"release.promote", "api_token_name=x", "api_token_name=", // the last value counts
		"env.read", "rbac_decision=deny", "status=denied",
		"app.read", "rbac_decision=allow")
	want := `login.oauth_failed security security-oncall
login.oauth_failed security-oncall
login.complete security
release.promote none
release.promote infrastructure
env.read rbac-denied
app.read none
`
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	for _, bad := range [][]string{{"status=failed"}, {"login.complete", "action=logout"}, {"login.complete", "=x"}} {
		if _, errOut, code := cli(t, "", append([]string{"route", "--config", path}, bad...)...); code != 2 || !strings.Contains(errOut, "ACTION") {
			t.Errorf("route %q: exit %d, %s", bad, code, errOut)
		}
	}
}

func TestRouteExplain(t *testing.T) {
	path := configFile(t, whereConfig)
	out, errOut, code := cli(t, "", "route", "--explain", "--config", path,
		"login.oauth_failed", "status=failed", "user_email=ci@example.com", "app.read")
	want := `login.oauth_failed security-oncall
  security: not matched: where user_email "ci@example.com" is excluded by "!ci@*"
  security-oncall: matched: action matches "login.*"; status "failed" matches "failed" → #security (queue security), mention S0123ABCD here
  rbac-denied: not matched: where rbac_decision (absent) matches none of ["deny"]
  infrastructure: not matched: action "login.oauth_failed" matches none of ["deploy_approval_request.*" "release.promote"]
  deploy_approval_alerts: not matched: action "login.oauth_failed" matches none of ["deploy_approval_request.create"]
app.read none
  security: not matched: action "app.read" matches none of ["login.complete" "login.*_failed" "login.user_not_authorized" "mfa_method.*" "user.update" "api_token.*"]
  security-oncall: not matched: action "app.read" matches none of ["login.*" "mfa_method.*"]
  rbac-denied: not matched: where rbac_decision (absent) matches none of ["deny"]
  infrastructure: not matched: action "app.read" matches none of ["deploy_approval_request.*" "release.promote"]
  deploy_approval_alerts: not matched: action "app.read" matches none of ["deploy_approval_request.create"]
`
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	// Audit lines on stdin, explained the same way; routed events too.
	in := `{"action":"login.oauth_failed","status":"failed","user_email":"eve@example.com"}` + "\n" +
		`{"log":"{\"action\":\"deploy_approval_request.create\",\"user_email\":\"bob@example.com\"}\n","stream":"stdout"}` + "\n"
	out, _, code = cli(t, in, "route", "--explain", "--config", path)
	for _, w := range []string{
		"login.oauth_failed security security-oncall\n",
		`  security: matched: action matches "login.*_failed"; user_email "eve@example.com" is excluded by none of ["!ci@*"] → #security` + "\n",
		`  security-oncall: matched: action matches "login.*"; status "failed" matches "failed" → #security (queue security), mention S0123ABCD here` + "\n",
		"deploy_approval_request.create infrastructure deploy_approval_alerts\n",
		`  infrastructure: matched: action matches "deploy_approval_request.*"; api_token_name (absent) matches "" → #infrastructure` + "\n",
		`  deploy_approval_alerts: matched: action matches "deploy_approval_request.create" → #deploy-approvals as an alert, mention U024BE7LH` + "\n",
	} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("exit %d; missing %q in:\n%s", code, w, out)
		}
	}
}

func TestRouteDiffReplay(t *testing.T) {
	cur := configFile(t, whereConfig)
	out, errOut, code := cli(t, "", "route", "--config", cur, "--diff", "../../configs/example.yaml", "--replay", "../../examples/audit.log")
	want := `12 events in ../../examples/audit.log, routed by ../../configs/example.yaml (before) and ` + cur + ` (after)

channel                 before   after
security                     5       5
security-oncall              1       1
rbac-denied                  0       1
infrastructure               4       3
deploy_approval_alerts       0       3

6 of 12 events change destination:
../../examples/audit.log:5 login.oauth_failed: security (#security, mention S0123ABCD) -> security (#security, mention S0123ABCD here)
../../examples/audit.log:7 deploy_approval_request.create: infrastructure -> infrastructure deploy_approval_alerts
../../examples/audit.log:8 deploy_approval_request.approve: infrastructure -> infrastructure deploy_approval_alerts
../../examples/audit.log:9 release.promote: infrastructure -> none
../../examples/audit.log:13 env.read: none -> rbac-denied
../../examples/audit.log:14 deploy_approval_request.expired: infrastructure -> infrastructure deploy_approval_alerts
`
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	// The list is capped, with a count.
	out, _, _ = cli(t, "", "route", "--config", cur, "--diff", "../../configs/example.yaml", "--replay", "../../examples/audit.log", "--limit", "1")
	if !strings.HasSuffix(out, "6 of 12 events change destination:\n"+
		"../../examples/audit.log:5 login.oauth_failed: security (#security, mention S0123ABCD) -> security (#security, mention S0123ABCD here)\n"+
		"… and 5 more (--limit shows more)\n") {
		t.Errorf("capped:\n%s", out)
	}
	// No change.
	out, _, _ = cli(t, "", "route", "--config", cur, "--diff", cur, "--replay", "../../examples/audit.log")
	if !strings.HasSuffix(out, "\nno event changes destination\n") {
		t.Errorf("same config:\n%s", out)
	}
	// Bad uses.
	if _, errOut, code := cli(t, "", "route", "--config", cur, "--replay", "../../examples/audit.log"); code != 2 || !strings.Contains(errOut, "--diff") {
		t.Errorf("--replay alone: exit %d, %s", code, errOut)
	}
	if _, errOut, code := cli(t, "", "route", "--config", cur, "--diff", cur, "--replay", "/nonexistent/audit.log"); code != 1 || !strings.Contains(errOut, "/nonexistent/audit.log") {
		t.Errorf("missing log: exit %d, %s", code, errOut)
	}
}

// Docker and CRI logs replay as the daemon reads them; long lines are skipped.
func TestRouteReplayFormats(t *testing.T) {
	old := configFile(t, "channels: []\n")
	cur := configFile(t, "audit_log:\n  max_line_bytes: 200\nchannels:\n  - name: all\n    slack_channel: \"#all\"\n    actions: [\"*\"]\n    where: {status: [failed]}\n")
	log := configFile(t, strings.Join([]string{
		`{"log":"{\"action\":\"a.one\",\"status\":\"failed\"}\n","stream":"stdout","time":"2026-03-20T01:12:44Z"}`,
		`2026-03-20T01:12:44.123456789Z stdout P {"action":"a.two",`,
		`2026-03-20T01:12:44.123456789Z stdout F "status":"failed"}`,
		`{"action":"a.long","status":"failed","pad":"` + strings.Repeat("x", 300) + `"}`,
		`{"action":"a.three","status":"success"}`,
	}, "\n")+"\n")
	out, _, code := cli(t, "", "route", "--config", cur, "--diff", old, "--replay", log)
	if code != 0 || !strings.Contains(out, "3 events in") || !strings.Contains(out, fmt.Sprintf("\n%-7s  %6d  %6d\n", "all", 0, 2)) ||
		!strings.Contains(out, log+":1 a.one: none -> all\n") || !strings.Contains(out, log+":3 a.two: none -> all\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestCheckWhereWarnings(t *testing.T) {
	path := configFile(t, `channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*", user.update_roles]
    where:
      status: [sucess, "!eror"]
      usr_email: ["!*@bots.*"]
      tenant: [acme]
      rbac_decision: [deny]
    mention: [S0123ABCD]
`)
	out, errOut, code := cli(t, "", "check", "--rules-only", "--config", path)
	want := []string{
		path + `:4: warning: role changes are logged as user.update (roles are in the event's details); user.update_roles is only named in the docs — add user.update`,
		path + `:6: warning: where status: "sucess" matches no status the gateway writes (success, failed, denied, error, alert); did you mean "success"?`,
		path + `:6: warning: where status: "!eror" matches no status the gateway writes (success, failed, denied, error, alert); did you mean "error"?`,
		path + `:7: warning: where key "usr_email" is not a field the gateway writes (allowed, as gateways add fields; an event without it has "" there); did you mean "user_email"?`,
		path + `:8: warning: where key "tenant" is not a field the gateway writes (allowed, as gateways add fields; an event without it has "" there)`,
	}
	if code != 0 || strings.Join(lines(errOut), "\n") != strings.Join(want, "\n") {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "5 warnings)") {
		t.Errorf("stdout %q", out)
	}
	if _, _, code := cli(t, "", "check", "--strict", "--config", path); code != 1 {
		t.Errorf("--strict: exit %d", code)
	}
	// A malformed glob and a bad mention are errors with file:line.
	bad := configFile(t, "channels:\n  - name: s\n    slack_channel: \"#s\"\n    actions: [\"*\"]\n    where:\n      status: [\"[fail\"]\n    mention: [\"@oncall\"]\n")
	_, errOut, code = cli(t, "", "check", "--config", bad)
	if code != 1 || !strings.Contains(errOut, bad+`:6: channel "s": where.status: malformed pattern "[fail"`) ||
		!strings.Contains(errOut, bad+`:7: channel "s": mention "@oncall" is not a user group ID (S…), a user ID (U… or W…), here or channel`+"\n") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}

// route --diff shows a change of mentions: on a rule with a where (which
// an action alone cannot decide), on a plain rule, and together with a new
// Slack channel.
func TestRouteDiffShowsMentions(t *testing.T) {
	rule := func(slack, extra string) string {
		return "channels:\n  - name: security\n    slack_channel: \"" + slack + "\"\n    actions: [login.complete]\n" + extra
	}
	const where = "    where: {status: [failed]}\n"
	for _, c := range []struct{ name, old, cur, want string }{
		{"where", rule("#security", where), rule("#security", where+"    mention: [here]\n"),
			"login.complete: security (#security) if status: [failed] -> security (#security, mention here) if status: [failed]\n"},
		{"plain", rule("#security", ""), rule("#security", "    mention: [S0123ABCD]\n"),
			"login.complete: security (#security) -> security (#security, mention S0123ABCD)\n"},
		{"channel and mention", rule("#security", ""), rule("#security-alerts", "    mention: [here]\n"),
			"login.complete: security (#security) -> security (#security-alerts, mention here)\n"},
		{"channel only", rule("#security", "    mention: [here]\n"), rule("#security-alerts", "    mention: [here]\n"),
			"login.complete: security (#security) -> security (#security-alerts)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := cli(t, "", "route", "--config", configFile(t, c.cur), "--diff", configFile(t, c.old))
			if code != 0 || out != c.want {
				t.Errorf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, c.want, errOut)
			}
		})
	}
}
