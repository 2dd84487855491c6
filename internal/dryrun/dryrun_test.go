package dryrun

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/metrics"
)

const rulesYAML = `channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*_failed", login.complete]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions: ["deploy_approval_request.*"]
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create]
`

// logLines has every kind of line: 5 events (2 routed, one of them to two
// channels; 3 unrouted), 1 not_audit, 1 malformed (junk after NUL padding,
// which counts as the line it precedes), 1 oversized, in Docker and CRI
// wrappers too. run adds NUL padding at the end: one more malformed.
var logLines = []string{
	`{"action":"login.oauth_failed","status":"failed","ts":"2026-03-20T01:13:02Z","user_email":"mallory@example.net"}`,
	`{"action":"app.read","status":"success","user_email":"alice@example.com"}`,
	`{"method":"GET","path":"/api/v1/apps","status":200}`,
	`{"log":"{\"action\":\"deploy_approval_request.create\",\"status\":\"success\",\"user_name\":\"Bob <b>\",\"user_email\":\"bob@example.com\"}\n","stream":"stdout","time":"2026-03-20T01:14:00Z"}`,
	`2026-03-20T01:15:00.000000000Z stdout F {"action":"app.read","status":"success"}`,
	"\x00\x00\x00not json at all",
	`{"action":"env.read","pad":"` + strings.Repeat("x", 300) + `"}`,
	`{"action":"login\u001bstart","status":"success"}`,
}

func run(t *testing.T, output string) (stdout, stderr string, err error) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(logPath, []byte(strings.Join(logLines, "\n")+"\n\x00\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(rulesYAML+"audit_log:\n  path: "+logPath+"\n  max_line_bytes: 256\nstate_dir: "+dir+"/state\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var o, e bytes.Buffer
	err = Run(context.Background(), cfg, Options{Output: output, Stdout: &o, Stderr: &e})
	if _, serr := os.Stat(dir + "/state"); serr == nil {
		t.Error("the dry run created the state directory")
	}
	return o.String(), e.String(), err
}

func summaryWant(path string) string {
	return "dry run of " + path + ": 9 lines\n" +
		"  lines:    5 event, 1 not_audit, 2 malformed, 1 oversized\n" +
		"  routed:   security 1, infrastructure 1, deploy_approval_alerts 1\n" +
		"  unrouted: 3 events: app.read 2, \"login\\x1bstart\" 1\n"
}

func TestTextFormatAndSummary(t *testing.T) {
	out, errOut, err := run(t, FormatText)
	if err != nil {
		t.Fatal(err)
	}
	want := "security → #security: 🚨 login.oauth_failed · User: mallory@example.net · Status: failed\n" +
		"infrastructure → #infrastructure: 🚀 deploy_approval_request.create · User: Bob <b> (bob@example.com) · Status: success\n" +
		"deploy_approval_alerts → #deploy-approvals: 🚀 Deploy approval requested · 🚀 deploy_approval_request.create · User: Bob <b> (bob@example.com) · Status: success\n"
	if out != want {
		t.Errorf("text:\n%s\nwant:\n%s", out, want)
	}
	path := strings.TrimPrefix(strings.SplitN(errOut, ":", 2)[0], "dry run of ")
	if errOut != summaryWant(path) {
		t.Errorf("summary:\n%s\nwant:\n%s", errOut, summaryWant(path))
	}
}

func TestJSONLinesStayAsTheyWere(t *testing.T) {
	out, errOut, err := run(t, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), out)
	}
	for i, want := range []string{"security", "infrastructure", "deploy_approval_alerts"} {
		var m struct {
			Channel      string `json:"channel"`
			SlackChannel string `json:"slack_channel"`
			Alert        bool   `json:"alert"`
			Message      struct {
				Text   string            `json:"text"`
				Blocks []json.RawMessage `json:"blocks"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, lines[i])
		}
		if m.Channel != want || len(m.Message.Blocks) == 0 || m.Message.Text == "" || m.Alert != (i == 2) {
			t.Errorf("line %d: %+v", i, m)
		}
	}
	if !strings.Contains(errOut, "  unrouted: 3 events: app.read 2") {
		t.Errorf("no summary with JSON output:\n%s", errOut)
	}
}

func TestUnknownOutputFormat(t *testing.T) {
	if _, _, err := run(t, "yaml"); err == nil || !strings.Contains(err.Error(), `--format "yaml": use json or text`) {
		t.Errorf("err = %v", err)
	}
}

func TestUnroutedActionsAreBounded(t *testing.T) {
	s := newSummary("x.log", metrics.New("test"))
	for i := range maxActions + 10 {
		s.unrouted([]byte("custom.action" + strings.Repeat("z", i%7) + string(rune('a'+i%26)) + strings.Repeat("q", i/182)))
		s.unrouted([]byte("app.read"))
	}
	if len(s.actions) > maxActions {
		t.Errorf("%d actions remembered", len(s.actions))
	}
	var b bytes.Buffer
	s.write(&b)
	if !strings.Contains(b.String(), "app.read 1010") {
		t.Errorf("summary:\n%s", b.String())
	}
}
