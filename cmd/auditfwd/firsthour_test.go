package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/httpserver"
	"github.com/auditfwd/auditfwd/internal/testenv"
	"github.com/auditfwd/auditfwd/internal/token"
)

// noSecretsEnv unsets every variable that supplies a secret or a token, so
// the test sees what a fresh host sees.
func noSecretsEnv(t *testing.T) {
	for _, v := range []string{config.EnvClientID, config.EnvClientSecret, config.EnvAdminPassword, config.EnvCredentialsDir, token.EnvVar} {
		t.Setenv(v, "")
	}
}

func TestCheckWarnsAboutPlaceholders(t *testing.T) {
	noSecretsEnv(t)
	const example = "../../configs/example.yaml"
	out, errOut, code := cli(t, "", "check", "--config", example)
	want := []string{
		example + `: warning: admin.public_url is still the example's https://your-gateway-domain.com`,
		example + `: warning: slack.client_id is empty (and SLACK_CLIENT_ID is not set) while no bot token exists`,
		example + `: warning: no admin password (admin.password_file, AUDITFWD_ADMIN_PASSWORD or the systemd credential admin-password)`,
	}
	if _, err := os.Stat("/var/log/rack-gateway"); err != nil { // not a gateway host
		want = append(want, example+`: warning: audit_log.path /var/log/rack-gateway/audit.log: its directory /var/log/rack-gateway does not exist on this host`)
	}
	got := lines(errOut)
	if code != 0 || len(got) != len(want) || !strings.Contains(out, fmt.Sprintf("%d warnings", len(want))) {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d:\n got %s\nwant %s…", i, got[i], want[i])
		}
	}
	if _, errOut, code := cli(t, "", "check", "--strict", "--config", example); code != 1 || !strings.Contains(errOut, fmt.Sprintf("auditfwd check: %d warning(s) and --strict", len(want))) {
		t.Errorf("--strict on the example's placeholders: exit %d\n%s", code, errOut)
	}

	// The binary installed from the example refuses it too, on a host without secrets.
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "SLACK_") && !strings.HasPrefix(k, "AUDITFWD_") && k != config.EnvCredentialsDir {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(testenv.Binary(t), "check", "--strict", "--config", example)
	cmd.Env = env
	if b, _ := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(b), "is still the example's") {
		t.Errorf("binary: exit %d\n%s", cmd.ProcessState.ExitCode(), b)
	}

	// Filled in: quiet.
	t.Setenv(config.EnvClientSecret, "s")
	t.Setenv(config.EnvAdminPassword, "p")
	path := configFile(t, "state_dir: "+t.TempDir()+"\naudit_log:\n  path: "+filepath.Join(t.TempDir(), "audit.log")+"\nadmin:\n  public_url: https://auditfwd.gw.acme.io\nslack:\n  client_id: \"1234.5678\"\n"+
		"channels:\n  - name: security\n    slack_channel: \"#security\"\n    actions: [\"login.*\"]\n")
	if out, errOut, code := cli(t, "", "check", "--strict", "--config", path); code != 0 || errOut != "" || !strings.Contains(out, "0 warnings") {
		t.Errorf("a filled-in config: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

func TestCheckWithoutConfigSaysHowToNameOne(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config.yaml")
	t.Setenv("AUDITFWD_CONFIG", missing)
	_, errOut, code := cli(t, "", "check")
	want := "auditfwd check: read config: open " + missing + ": no such file or directory (name the config file with --config FILE or AUDITFWD_CONFIG; configs/example.yaml is a complete example)\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
	// Errors in the file stay bare file:line lines.
	bad := configFile(t, "channels: [\n")
	if _, errOut, code := cli(t, "", "check", "--config", bad); code != 1 || !strings.HasPrefix(errOut, bad+":") {
		t.Errorf("a broken file: exit %d, stderr %q", code, errOut)
	}
}

func TestTestCommandNamesTheChannelsItKnows(t *testing.T) {
	path := configFile(t, "state_dir: "+t.TempDir()+"\n")
	_, errOut, code := cli(t, "", "test", "--config", path, "#security")
	want := `auditfwd test: no channel named "#security" in ` + path + `; #security is the Slack channel of "security", so run ` +
		"`auditfwd test security`; the names it knows: security, infrastructure\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
	_, errOut, _ = cli(t, "", "test", "--config", path, "secruity")
	if !strings.HasSuffix(errOut, `no channel named "secruity" in `+path+"; the names it knows: security, infrastructure\n") {
		t.Errorf("stderr: %s", errOut)
	}
}

func TestWrongEnvironmentTokenAdviceNamesTheVariable(t *testing.T) {
	noSecretsEnv(t)
	s := newSlack(t)
	state := t.TempDir()
	path := configFile(t, "state_dir: "+state+"\nslack:\n  api_url: "+s.URL+"\n")

	t.Setenv(token.EnvVar, "xoxb-wrong")
	for _, args := range [][]string{{"test", "security"}, {"channels"}} {
		_, errOut, code := cli(t, "", append(args, "--config", path)...)
		if code != 1 || !strings.Contains(errOut, "invalid_auth (the token comes from SLACK_BOT_TOKEN, which wins over the token file: fix or unset SLACK_BOT_TOKEN") ||
			!strings.Contains(errOut, "reconnecting on the admin page cannot help while it is set") {
			t.Errorf("%v with a wrong SLACK_BOT_TOKEN: exit %d, stderr:\n%s", args, code, errOut)
		}
	}
	// A wrong token from the file: reconnecting is the fix.
	t.Setenv(token.EnvVar, "")
	if err := token.Save(filepath.Join(state, "slack-token.json"), token.Token{AccessToken: "xoxb-revoked"}); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := cli(t, "", "test", "security", "--config", path); code != 1 || !strings.Contains(errOut, "invalid_auth (reconnect Slack on the admin page)") {
		t.Errorf("a wrong token file: exit %d, stderr:\n%s", code, errOut)
	}
}

// The daemon logs at start what `check` warns about, and a reload logs the
// rule warnings of the new file.
func TestDaemonLogsCheckWarningsAtStartAndReload(t *testing.T) {
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Env: []string{"AUDITFWD_ADMIN_PASSWORD=", "CREDENTIALS_DIRECTORY="}})
	base, err := os.ReadFile(d.ConfigPath) // no channels key yet: the defaults
	if err != nil {
		t.Fatal(err)
	}
	d.WriteConfig(string(base) + "channels:\n  - name: security\n    slack_channel: \"#security\"\n    actions: [\"login.*\"]\n")
	d.Start()
	if n := strings.Count(d.Output(), "no admin password (admin.password_file"); n != 1 {
		t.Errorf("the missing admin password is logged %d times at start, want once:\n%s", n, d.Output())
	}
	if strings.Contains(d.Output(), "rules in force have a warning") {
		t.Errorf("warnings about the default rules:\n%s", d.Output())
	}
	d.WriteConfig(string(base) + "channels:\n  - name: security\n    slack_channel: \"#security\"\n    actions: [\"lgoin.*\"]\n")
	want := `: warning: pattern \"lgoin.*\" matches no known gateway action; did you mean \"login.*\"?"`
	testenv.Eventually(t, 15*time.Second, "the reload's warning in the log", func() bool {
		return strings.Contains(d.Output(), `msg="rules in force have a warning" warning="`+d.ConfigPath+":") && strings.Contains(d.Output(), want)
	})
}

// The metrics listener closes a keep-alive connection nobody uses, like
// the admin listener: the real binary with its real timeout. The bound is
// generous (a busy machine is slow); the test logs what it measured.
func TestMetricsListenerClosesIdleConnections(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	type result struct {
		addr string
		took time.Duration
		err  error
	}
	results := make(chan result, 2)
	for _, addr := range []string{d.Metrics, d.Admin} {
		go func() {
			took, err := idleClose(addr, 3*httpserver.IdleTimeout)
			results <- result{addr, took, err}
		}()
	}
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Errorf("%s: %v", r.addr, r.err)
			continue
		}
		t.Logf("%s: idle keep-alive connection closed by the server after %v (IdleTimeout %v)", r.addr, r.took.Round(100*time.Millisecond), httpserver.IdleTimeout)
	}
}

// idleClose makes one keep-alive request to addr, then waits until the
// server closes the idle connection, and says how long that took.
func idleClose(addr string, bound time.Duration) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		return 0, errors.New("the server closed the connection after the response; no keep-alive to test")
	}
	start := time.Now()
	conn.SetReadDeadline(start.Add(bound))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && (err == nil || !strings.Contains(err.Error(), "reset")) {
		return 0, fmt.Errorf("idle connection still open after %v: %v", bound, err)
	}
	return time.Since(start), nil
}

// The README's first command, and its readable form.
func TestDryRunOfTheSampleLog(t *testing.T) {
	t.Chdir("../..")
	out, errOut, code := cli(t, "", "run", "--dry-run", "--format", "text", "--config", "examples/dry-run.yaml")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if got := lines(out); len(got) != 14 || got[1] != "security → #security: 🚨 login.oauth_failed · User: mallory@example.net · Status: failed" {
		t.Errorf("text form:\n%s", out)
	}
	// One request's whole life, in one thread: created, approved, expired.
	var thread []string
	for _, l := range lines(out) {
		if strings.HasPrefix(l, "deploy_approval_alerts → ") {
			thread = append(thread, strings.TrimPrefix(l[:strings.Index(l, ":")], "deploy_approval_alerts → #deploy-approvals "))
		}
	}
	wantThread := []string{"(new thread deploy_approval_request=42)", "(edit of thread deploy_approval_request=42)", "(reply in thread deploy_approval_request=42)",
		"(edit of thread deploy_approval_request=42)", "(reply in thread deploy_approval_request=42)"}
	if !slices.Equal(thread, wantThread) {
		t.Errorf("the sample's deploy approval request in #deploy-approvals:\n%s\nwant:\n%s", strings.Join(thread, "\n"), strings.Join(wantThread, "\n"))
	}
	wantSummary := "dry run of examples/audit.log: 14 lines\n" +
		"  lines:    12 event, 1 not_audit, 1 malformed, 0 oversized\n" +
		"  routed:   security 5, infrastructure 4, deploy_approval_alerts 3\n" +
		"  unrouted: 3 events: app.read 1, env.read 1, login.start 1\n"
	if errOut != wantSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", errOut, wantSummary)
	}
	jsonOut, jsonErr, code := cli(t, "", "run", "--dry-run", "--config", "examples/dry-run.yaml")
	if code != 0 || len(lines(jsonOut)) != 14 || !strings.HasPrefix(jsonOut, `{"channel":"security","slack_channel":"#security","message":{`) || jsonErr != wantSummary {
		t.Errorf("JSON lines: exit %d\n%s\n%s", code, jsonOut, jsonErr)
	}
}

// A misspelt audit_log.path (its directory does not exist): check warns,
// the daemon warns at start and reports auditfwd_audit_log_present 0 (and
// is ready: the log may yet appear); once the log is there it is read from
// its first line and the gauge is 1.
func TestMissingAuditLogIsReported(t *testing.T) {
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(d.Dir, "gateway-logs", "audit.log")
	d.WriteConfig(strings.Replace(string(cfg), "path: "+d.LogPath, "path: "+logPath, 1))
	_, errOut, code := d.Run("check")
	if want := "warning: audit_log.path " + logPath + ": its directory " + filepath.Dir(logPath) + " does not exist on this host"; code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("check: exit %d, stderr:\n%s\nwant …%s…", code, errOut, want)
	}

	d.Start()
	testenv.Eventually(t, 10*time.Second, "the warning at start", func() bool {
		return strings.Contains(d.Output(), `level=WARN msg="audit log does not exist, nor does its directory; waiting for it (is audit_log.path right?)" path=`+logPath)
	})
	if v := d.MustMetric("auditfwd_audit_log_present"); v != 0 {
		t.Errorf("auditfwd_audit_log_present = %v while the log is missing", v)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.AppendFile(t, logPath, events(1, 3)...)
	waitEvents(t, s, idSecurity, 1, 3, 20*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 3)
	if v := d.MustMetric("auditfwd_audit_log_present"); v != 1 {
		t.Errorf("auditfwd_audit_log_present = %v once the log is read", v)
	}
}
