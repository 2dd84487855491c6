package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// cli runs a command in-process.
func cli(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = runCLI(&cliEnv{stdin: strings.NewReader(stdin), stdout: &o, stderr: &e}, args)
	return o.String(), e.String(), code
}

// configFile writes a config into a temp dir and returns its path.
func configFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestCheckTypoWarnsWithSuggestion(t *testing.T) {
	path := configFile(t, `channels:
  - name: security
    slack_channel: "#security"
    actions:
      - "lgoin.*"
      - login.complete
`)
	out, errOut, code := cli(t, "", "check", "--rules-only", "--config", path)
	want := path + `:5: warning: pattern "lgoin.*" matches no known gateway action; did you mean "login.*"?`
	if code != 0 || strings.TrimSpace(errOut) != want {
		t.Fatalf("check: exit %d, stderr:\n%s\nwant exit 0 and:\n%s", code, errOut, want)
	}
	if !strings.Contains(out, "1 warning)") {
		t.Errorf("stdout %q", out)
	}
	_, errOut, code = cli(t, "", "check", "--strict", "--rules-only", "--config", path)
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--strict") {
		t.Fatalf("check --strict: exit %d, stderr:\n%s", code, errOut)
	}
	// Flags after the command's other arguments work too.
	if _, _, code := cli(t, "", "check", "--config", path, "--rules-only", "--strict"); code != 1 {
		t.Fatalf("check --config F --strict: exit %d", code)
	}
}

func TestCheckOtherWarnings(t *testing.T) {
	path := configFile(t, `channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*", user.update_roles]
  - name: logins
    slack_channel: "security"
    actions: [login.complete, "login.*_failed"]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.craete]
`)
	_, errOut, code := cli(t, "", "check", "--rules-only", "--config", path)
	got := lines(errOut)
	want := []string{
		path + `:4: warning: role changes are logged as user.update`,
		path + `:5: warning: channel "logins" can never fire: every action it matches already goes to Slack channel "security" through channel "security", which comes first`,
		path + `:11: warning: pattern "deploy_approval_request.craete" matches no known gateway action; did you mean "deploy_approval_request.create"?`,
	}
	if code != 0 || len(got) != len(want) {
		t.Fatalf("exit %d, stderr:\n%s", code, errOut)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
}

func TestCheckErrorsNameTheLine(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		want         []string // stderr lines, after "path:"
	}{
		{"malformed pattern", `channels:
  - name: security
    slack_channel: "#security"
    actions:
      - login.complete
      - "login.["
`, []string{`6: channel "security": malformed pattern "login.[" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"unknown keys at any level", `audit_log:
  path: /var/log/a.log
  fromat: json
slak:
  api_url: https://slack.com/api/
channels:
  - name: security
    slack_channel: "#security"
    action: [login.complete]
`, []string{
			`3: unknown key "fromat" in audit_log; did you mean "format"?`,
			`4: unknown key "slak"; did you mean "slack"?`,
			`7: channel "security" has no actions key; list the action patterns it receives`,
			`9: unknown key "action" in channels[0]; did you mean "actions"?`,
		}},
		{"duplicate channel name", `channels:
  - name: security
    slack_channel: "#security"
    actions: [login.complete]
  - name: security
    slack_channel: "#ops"
    actions: [release.promote]
`, []string{`5: duplicate channel name "security" (first at line 2)`}},
		{"YAML syntax", "channels:\n  - name: security\n\tslack_channel: \"#security\"\n", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := configFile(t, tt.config)
			out, errOut, code := cli(t, "", "check", "--config", path)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
			}
			got := lines(errOut)
			if tt.want == nil { // just a line number
				if len(got) != 1 || !strings.HasPrefix(got[0], path+":3: invalid YAML") {
					t.Fatalf("stderr:\n%s", errOut)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("stderr:\n%s\nwant %d lines", errOut, len(tt.want))
			}
			for i, w := range tt.want {
				if got[i] != path+":"+w {
					t.Errorf("line %d:\n got %s\nwant %s:%s", i, got[i], path, w)
				}
			}
		})
	}
	if _, errOut, code := cli(t, "", "check", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != 1 || len(lines(errOut)) != 1 {
		t.Fatalf("missing file: exit %d, stderr %q", code, errOut)
	}
}

func TestCheckExampleConfigIsClean(t *testing.T) {
	out, errOut, code := cli(t, "", "check", "--strict", "--rules-only", "--config", "../../configs/example.yaml")
	if code != 0 || errOut != "" || !strings.Contains(out, "0 warnings") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	// The real binary, as CI and the git hook run it.
	cmd := exec.Command(testenv.Binary(t), "check", "--strict", "--rules-only", "--config", "../../configs/example.yaml")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	cmd = exec.Command(testenv.Binary(t), "check", "--strict", "--rules-only", "--config", configFile(t, "channels:\n  - name: s\n    slack_channel: \"#s\"\n    actions: [\"lgoin.*\"]\n"))
	if b, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("the binary exits %d on a warning with --strict: %v %s", cmd.ProcessState.ExitCode(), err, b)
	}
}

// The built-in default channels (a config without a channels key) pass the
// product's own strictest check, and route role changes (user.update).
func TestCheckStrictAcceptsTheDefaults(t *testing.T) {
	path := configFile(t, "# no channels key: the default channels\nlog_level: info\n")
	out, errOut, code := cli(t, "", "check", "--strict", "--rules-only", "--config", path)
	if code != 0 || errOut != "" || !strings.Contains(out, "0 warnings") {
		t.Fatalf("check --strict on the defaults: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	out, _, _ = cli(t, "", "route", "--config", path, "user.update", "user.update_roles")
	if want := "user.update security\nuser.update_roles security\n"; out != want {
		t.Errorf("route with the defaults:\n%s\nwant\n%s", out, want)
	}
}

const routeConfig = `channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*_failed", login.complete, "mfa_method.*"]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions: ["deploy_approval_request.*", release.promote]
  - name: security-copy
    slack_channel: "security"
    actions: [login.complete, custom.thing]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create]
`

func TestRouteActions(t *testing.T) {
	path := configFile(t, routeConfig)
	out, errOut, code := cli(t, "", "route", "--config", path,
		"login.complete", "app.read", "deploy_approval_request.create", "custom.thing", "login.oauth_failed")
	// Every rule that matched is named, security-copy too, although its
	// events are posted once in #security under the name security.
	want := `login.complete security security-copy
app.read none
deploy_approval_request.create infrastructure deploy_approval_alerts
custom.thing security-copy
login.oauth_failed security
`
	if code != 0 || out != want || errOut != "" {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
}

func TestRouteStdinMixedFormats(t *testing.T) {
	path := configFile(t, routeConfig)
	docker := func(line string) string {
		return fmt.Sprintf(`{"log":%q,"stream":"stdout","time":"2026-03-20T01:12:44.123Z"}`, line+"\n")
	}
	const cri = "2026-03-20T01:12:44.123456789Z stdout "
	in := strings.Join([]string{
		`{"action":"login.complete","status":"success","ts":"2026-03-20T01:12:44Z"}`,
		`{"method":"GET","path":"/api/v1/apps","status":200,"ts":"2026-03-20T01:12:45Z"}`,
		docker(`{"action":"release.promote","status":"success"}`),
		"garbage \x00\x01 {not json",
		cri + `F {"action":"app.read","status":"success"}`,
		cri + `P {"action":"deploy_approval`,
		cri + `F _request.create","status":"success"}`,
		`{"action":"","status":"success"}`,
		`{"timestamp":"2026-03-20T01:12:44.123456789Z","action":"login.oauth_failed","id":7,"details":"{}"}`,
		docker(`{"method":"POST","path":"/x","status":500}`),
		`{"action":"custom.thing"`, // cut short
	}, "\n") + "\n"
	out, errOut, code := cli(t, in, "route", "--config", path)
	want := `login.complete security security-copy
release.promote infrastructure
app.read none
deploy_approval_request.create infrastructure deploy_approval_alerts
login.oauth_failed security
`
	if code != 0 || out != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s\nstderr: %s", code, out, want, errOut)
	}
	if out, _, code := cli(t, "", "route", "--config", path); code != 0 || out != "" {
		t.Fatalf("empty stdin: exit %d, %q", code, out)
	}
}

func TestRouteDiff(t *testing.T) {
	old := configFile(t, routeConfig)
	cur := configFile(t, `channels:
  - name: security
    slack_channel: "#security-alerts"
    actions: ["login.*_failed", login.complete, "mfa_method.*"]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions: ["deploy_approval_request.*", release.promote, "user.*"]
  - name: security-copy
    slack_channel: "security"
    actions: [login.complete, other.thing]
deploy_approval_alerts:
  enabled: true
  slack_channel: "infrastructure"
  actions: [deploy_approval_request.create]
`)
	out, errOut, code := cli(t, "", "route", "--diff", old, "--config", cur)
	want := []string{
		// custom.thing and other.thing are no catalog actions, but the rules name them.
		`custom.thing: security -> none`,
		// The alert now shares #infrastructure: one message, formatted as an alert.
		`deploy_approval_request.create: infrastructure deploy_approval_alerts -> infrastructure (alert)`,
		// security-copy no longer shares security's Slack channel.
		`login.complete: security -> security security-copy`,
		// The same channel name, another Slack channel.
		`login.oauth_failed: security (#security) -> security (#security-alerts)`,
		`mfa_method.created: security (#security) -> security (#security-alerts)`,
	}
	got := lines(out)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %q in:\n%s", w, out)
		}
	}
	for _, g := range got {
		switch {
		case strings.Contains(strings.Join(want, "\n")+"\n", g+"\n"):
		case g == "other.thing: none -> security-copy":
		case strings.HasPrefix(g, "user.") && strings.HasSuffix(g, ": none -> infrastructure"):
		// With request threads (on by default) every request event goes to the alert.
		case strings.HasPrefix(g, "deploy_approval_request.") && strings.HasSuffix(g, ": infrastructure deploy_approval_alerts -> infrastructure (alert)"):
		case strings.HasPrefix(g, "login.") || strings.HasPrefix(g, "mfa_method."):
			if !strings.HasSuffix(g, "security (#security) -> security (#security-alerts)") {
				t.Errorf("unexpected %q", g)
			}
		default:
			t.Errorf("unexpected %q", g)
		}
	}
	// No change: says so.
	out, _, code = cli(t, "", "route", "--diff", old, "--config", old)
	if code != 0 || !strings.HasPrefix(out, "no known action changes destination") {
		t.Fatalf("identical files: exit %d, %q", code, out)
	}
	// A broken side fails with its file:line.
	bad := configFile(t, "channels: [{name: x, slack_channel: x, actions: [\"a.[\"]}]\n")
	if _, errOut, code := cli(t, "", "route", "--diff", bad, "--config", cur); code != 1 || !strings.Contains(errOut, bad+":1: ") {
		t.Fatalf("bad old file: exit %d, %s", code, errOut)
	}
}

// The git hook, in a real repository with the real binary.
func TestCheckPreCommitHook(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	hook, err := filepath.Abs("../../scripts/git-pre-commit")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	env := append(os.Environ(), "AUDITFWD_BIN="+testenv.Binary(t),
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir, cmd.Env = repo, env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	must := func(args ...string) {
		t.Helper()
		if out, err := git(args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	put := func(name, content string) {
		t.Helper()
		p := filepath.Join(repo, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must("init", "-q")
	data, err := os.ReadFile(hook)
	if err != nil {
		t.Fatal(err)
	}
	put(".git/hooks/pre-commit", string(data))
	os.Chmod(filepath.Join(repo, ".git/hooks/pre-commit"), 0o755)

	good := "channels:\n  - name: security\n    slack_channel: \"#security\"\n    actions: [login.complete]\n"
	put("configs/prod.yaml", good)
	put("README", "x")
	must("add", ".")
	must("commit", "-q", "-m", "good config")

	// A typo: refused, with the repository path and line.
	put("configs/prod.yaml", strings.Replace(good, "login.complete", `"lgoin.*"`, 1))
	must("add", ".")
	out, err := git("commit", "-q", "-m", "typo")
	if err == nil || !strings.Contains(out, `configs/prod.yaml:4: warning: pattern "lgoin.*" matches no known gateway action; did you mean "login.*"?`) {
		t.Fatalf("commit with a typo: %v\n%s", err, out)
	}
	// The staged version counts, not the work tree: fixing the file without
	// staging it still fails.
	put("configs/prod.yaml", good)
	if out, err := git("commit", "-q", "-m", "typo"); err == nil {
		t.Fatalf("unstaged fix let the commit through:\n%s", out)
	}
	// Warnings pass with AUDITFWD_HOOK_STRICT=0; errors never do.
	env = append(env, "AUDITFWD_HOOK_STRICT=0")
	if out, err := git("commit", "-q", "-m", "typo allowed"); err != nil {
		t.Fatalf("AUDITFWD_HOOK_STRICT=0: %v\n%s", err, out)
	}
	put("configs/prod.yaml", good+"    colour: red\n")
	must("add", ".")
	out, err = git("commit", "-q", "-m", "unknown key")
	if err == nil || !strings.Contains(out, `configs/prod.yaml:5: unknown key "colour" in channels[0]`) {
		t.Fatalf("commit with an unknown key: %v\n%s", err, out)
	}
	must("reset", "-q", "--hard")

	// Other paths are left alone; AUDITFWD_HOOK_CONFIGS chooses them.
	put("deploy/auditfwd.yaml", "channels: [oops\n")
	must("add", ".")
	must("commit", "-q", "-m", "not a config path")
	put("deploy/auditfwd.yaml", "channels: [oops, again\n")
	must("add", ".")
	env = append(env, "AUDITFWD_HOOK_CONFIGS=configs/*.yaml deploy/*.yaml")
	if out, err := git("commit", "-q", "-m", "configured path"); err == nil || !strings.Contains(out, "deploy/auditfwd.yaml:") {
		t.Fatalf("AUDITFWD_HOOK_CONFIGS: %v\n%s", err, out)
	}
}

// manifest repeats the redirect URL from public_url: left at the example's
// placeholder, it says so on stderr (the manifest itself stays on stdout).
func TestManifestWarnsAboutPlaceholderPublicURL(t *testing.T) {
	out, errOut, code := cli(t, "", "manifest", "--config", "../../configs/example.yaml")
	if code != 0 || !strings.Contains(out, "your-gateway-domain.com/api/v1/integrations/slack/oauth/callback") {
		t.Fatalf("exit %d, manifest:\n%s", code, out)
	}
	if !strings.Contains(errOut, "configs/example.yaml: warning:") || !strings.Contains(errOut, "public_url") {
		t.Errorf("no placeholder warning on stderr: %q", errOut)
	}
	if strings.Contains(out, "warning") {
		t.Errorf("the warning went into the manifest:\n%s", out)
	}
	dir := t.TempDir()
	path := dir + "/config.yaml"
	if err := os.WriteFile(path, []byte("audit_log:\n  path: /tmp/x.log\nadmin:\n  public_url: https://gateway.acme-ops.net\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := cli(t, "", "manifest", "--config", path); code != 0 || errOut != "" {
		t.Errorf("a real public_url: exit %d, stderr %q", code, errOut)
	}
}
