package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/redact/redacttest"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// sentParams is every parameter of every request the fake Slack received
// (accepted or not), the token left out: what left the host.
func sentParams(s *fakeslack.Server) string {
	var b strings.Builder
	for _, a := range s.Attempts("") {
		for k, vs := range a.Params {
			for _, v := range vs {
				b.WriteString(a.Method + " " + k + "=" + v + "\n")
			}
		}
	}
	return b.String()
}

var tagRE = regexp.MustCompile(`\[redacted:([a-z0-9-]+)\]`)

// tagsInAcceptedTexts counts the [redacted:NAME] tags in the text of every
// message Slack accepted (posts, replies, edits): what
// auditfwd_redactions_total must count, replacement for replacement.
func tagsInAcceptedTexts(s *fakeslack.Server, channels ...string) map[string]int {
	out := map[string]int{}
	count := func(text string) {
		for _, m := range tagRE.FindAllStringSubmatch(text, -1) {
			out[m[1]]++
		}
	}
	for _, p := range s.Posts() {
		count(p.Text)
	}
	for _, ch := range channels {
		for _, m := range s.ChannelMessages(ch) {
			for _, r := range s.ThreadRequests(ch, m.TS) {
				if r.Method == "chat.update" {
					count(r.Params.Get("text"))
				}
			}
		}
	}
	return out
}

// secretsConfig posts every event to #security, threads failed logins by
// address in #ops, and keeps each deploy approval request in one thread.
const secretsConfig = `  - name: all
    slack_channel: "#security"
    actions: ["*"]
  - name: floods
    slack_channel: "#ops"
    actions: ["login.*_failed"]
    thread_by: ip_address
`

const secretsAlerts = `deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create]
`

// TestSecretsNeverLeaveTheHost: events carrying each kind of secret reach
// the fake Slack (posts, digests, thread parents, replies and edits) with
// none of the secret text in any request, still carrying their event, and
// auditfwd_redactions_total counts each replacement by detector.
func TestSecretsNeverLeaveTheHost(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: secretsConfig, Extra: secretsAlerts})
	cases := redacttest.Cases()
	var lines []string
	// Each secret in another field: the command, details (JSON in a
	// string), the user agent, a field a newer gateway adds.
	for i, c := range cases {
		var kv []any
		switch i % 4 {
		case 0:
			kv = []any{"command", c.Value}
		case 1:
			kv = []any{"details", `{"note":` + jsonString(c.Value) + `,"attempt":1}`}
		case 2:
			kv = []any{"user_agent", c.Value}
		case 3:
			kv = []any{"gateway_extra", c.Value}
		}
		lines = append(lines, whereEvent(i+1, "process.exec", append(kv, "status", "success", "user_email", "alice@example.com")...))
	}
	n := len(cases)
	// A thread_by flood whose values hold secrets: a parent, replies and edits.
	for j := range 3 {
		c := cases[j*7%n]
		lines = append(lines, whereEvent(n+1+j, "login.oauth_failed", "ip_address", "198.51.100.23", "status", "failed",
			"details", `{"reason":`+jsonString(c.Value)+`}`))
	}
	// A deploy approval request's thread: the parent shows the request's
	// fields, is edited when it is approved, and the approval replies.
	create, approve := cases[1], cases[4]
	lines = append(lines,
		whereEvent(n+4, "deploy_approval_request.create", "resource", "dar_42", "status", "success", "user_email", "bob@example.com",
			"details", `{"message":`+jsonString("deploy with "+create.Value)+`,"git_branch":"main"}`),
		whereEvent(n+5, "deploy_approval_request.approve", "resource", "dar_42", "status", "success", "user_email", "carol@example.com",
			"notes", approve.Value))
	total := n + 5
	d.Start()
	d.Append(lines...)

	waitEvents(t, s, idSecurity, 1, total+1, 60*time.Second)
	waitEvents(t, s, idOps, n+1, n+4, 30*time.Second)
	testenv.Eventually(t, 30*time.Second, "the approval's reply and the parent's edit", func() bool {
		return s.Updates(idDeploy) >= 1 && len(texts(s, idDeploy)) >= 2
	})

	sent := sentParams(s)
	for _, c := range cases {
		if strings.Contains(sent, c.Secret) {
			t.Errorf("%s: the secret left the host:\n%s", c.Detector, excerpt(sent, c.Secret))
		}
	}
	for _, c := range cases {
		if !strings.Contains(sent, redact.Tag(c.Detector)) {
			t.Errorf("no %s in what Slack received", redact.Tag(c.Detector))
		}
	}
	// Every event still says what happened.
	for _, text := range texts(s, idSecurity) {
		if strings.Contains(text, "process.exec") && !strings.Contains(text, "alice@example.com") {
			t.Errorf("an event lost its other fields:\n%s", text)
		}
	}

	// Counted by detector, replacement for replacement, once per accepted message.
	want := tagsInAcceptedTexts(s, idSecurity, idOps, idDeploy)
	testenv.Eventually(t, 10*time.Second, "auditfwd_redactions_total to match the tags Slack received", func() bool {
		for name, n := range want {
			if got, _ := d.Metric("auditfwd_redactions_total", "detector="+name); int(got) != n {
				return false
			}
		}
		return true
	})
	for _, c := range cases {
		if got, _ := d.Metric("auditfwd_redactions_total", "detector="+c.Detector); got < 1 {
			t.Errorf("auditfwd_redactions_total{detector=%q} = %v", c.Detector, got)
		}
	}
	if got, ok := d.Metric("auditfwd_redactions_total", "detector=field"); !ok || got != 0 {
		t.Errorf("field = %v, %v: want a 0 sample from start-up", got, ok)
	}
}

// TestRedactFieldsAndPatternsNeverBlindRouting: redact.fields and
// redact.patterns hide values in every message, while a where on a hidden
// field still routes by its real value.
func TestRedactFieldsAndPatternsNeverBlindRouting(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: `  - name: all
    slack_channel: "#security"
    actions: ["*"]
  - name: vip
    slack_channel: "#ops"
    actions: ["*"]
    where:
      user_email: [ceo@example.com]
      command: ["*--force*"]
`, Extra: `redact:
  fields: [user_email, command, "details.*token*"]
  patterns: ['\bcase-\d{6}\b', '(?i)ticket=(\w+)']
`})
	d.Start()
	d.Append(
		whereEvent(1, "app.delete", "user_email", "ceo@example.com", "command", "convox apps delete billing --force",
			"details", `{"session_token":"s3ss10n-abc","ref":"case-123456","why":"ticket=T4711 cleanup"}`),
		whereEvent(2, "app.delete", "user_email", "dev@example.com", "command", "convox apps delete billing --force"),
		whereEvent(3, "app.delete", "user_email", "ceo@example.com", "command", "convox apps delete billing"),
		whereEvent(4, "release.promote", "user_email", "ceo@example.com", "command", "x --force", "note", "see case-654321"),
	)
	waitEvents(t, s, idSecurity, 1, 5, 30*time.Second)
	var ops testenv.Count
	testenv.Eventually(t, 30*time.Second, "events 1 and 4 in #ops", func() bool {
		ops, _ = testenv.CountMarkers(texts(s, idOps))
		return ops[1] == 1 && ops[4] == 1
	})
	if ops[2] != 0 || ops[3] != 0 {
		t.Errorf("#ops got %v: where must see the real user_email and command", ops)
	}
	sent := sentParams(s)
	for _, leak := range []string{"ceo@example.com", "dev@example.com", "--force", "convox apps", "s3ss10n-abc", "case-123456", "case-654321", "T4711"} {
		if strings.Contains(sent, leak) {
			t.Errorf("%q left the host:\n%s", leak, excerpt(sent, leak))
		}
	}
	for _, want := range []string{"User: [redacted]", "command: [redacted]", `"session_token":"[redacted]"`, `"ref":"[redacted]"`, "ticket=[redacted] cleanup", "note: see [redacted]"} {
		if !strings.Contains(sent, want) {
			t.Errorf("what Slack received lacks %q", want)
		}
	}
	// Counted per message Slack took: user_email and command hidden in the
	// 6 messages of events 1-4 (all in #security, 1 and 4 in #ops), the
	// session token in event 1's 2; event 1 has 2 pattern matches, event 4
	// one, in each of its 2 messages.
	testenv.Eventually(t, 10*time.Second, "field and pattern counted", func() bool {
		f, _ := d.Metric("auditfwd_redactions_total", "detector=field")
		p, _ := d.Metric("auditfwd_redactions_total", "detector=pattern")
		return f == 6+6+2 && p == 2*2+2*1
	})
}

// TestOrdinaryGatewayEventsAreNotRedacted: 20 everyday gateway events (the
// sample log, the event-format examples, and more) reach Slack unchanged:
// not one [redacted anywhere, nothing counted.
func TestOrdinaryGatewayEventsAreNotRedacted(t *testing.T) {
	t.Parallel()
	events := ordinaryEvents(t)
	if len(events) < 20 {
		t.Fatalf("only %d ordinary events", len(events))
	}
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: `  - name: all
    slack_channel: "#security"
    actions: ["*"]
`})
	d.Start()
	d.Append(events...)
	testenv.Eventually(t, 30*time.Second, "the ordinary events in Slack", func() bool {
		n := 0
		for _, p := range s.Posts() {
			n += strings.Count(p.Text, "\nTime: ")
		}
		return n >= len(events)
	})
	if sent := sentParams(s); strings.Contains(sent, "[redacted") {
		t.Errorf("an ordinary value was redacted:\n%s", excerpt(sent, "[redacted"))
	}
	for _, det := range append([]string{"field", "pattern"}, detectorNames()...) {
		if got, ok := d.Metric("auditfwd_redactions_total", "detector="+det); !ok || got != 0 {
			t.Errorf("auditfwd_redactions_total{detector=%q} = %v, %v; want a 0 sample", det, got, ok)
		}
	}
	for _, v := range []string{"RABCDEF", "req-9f2c1a", "203.0.113.7", "curl/8.5.0", "Mozilla/5.0", "alice@example.com", "01HVX9ZK3M4N5P6Q7R8S9T0V1W", "0b7c6a4e-3d2f-4e1a-9b8c-7d6e5f4a3b2c", "e83c5163316f89bfbde7d9ab23ca2e25604af290"} {
		if !strings.Contains(sentParams(s), v) {
			t.Errorf("%q did not reach Slack", v)
		}
	}
}

// ordinaryEvents are the sample log's events, the event-format examples'
// and a few more everyday ones, one event a line.
func ordinaryEvents(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(readFile(t, "../../examples/audit.log"), "\n") {
		if strings.Contains(l, `"action":"`) {
			out = append(out, l)
		}
	}
	doc := readFile(t, "../../docs/event-format.md")
	for _, block := range regexp.MustCompile("(?s)```jsonl example kind=event[^\n]*\n(.*?)```").FindAllStringSubmatch(doc, -1) {
		for _, l := range strings.Split(strings.TrimSpace(block[1]), "\n") {
			if strings.HasPrefix(l, `{"action"`) {
				out = append(out, l)
			}
		}
	}
	ts := time.Now().UTC().Format(time.RFC3339)
	more := []map[string]any{
		{"action": "process.exec", "command": "convox run web bin/rails db:migrate -a billing", "ip_address": "2001:db8::1", "user_agent": "convox/3.19.6", "resource": "billing", "resource_type": "app"},
		{"action": "build.create", "details": `{"git_commit_hash":"e83c5163316f89bfbde7d9ab23ca2e25604af290","git_branch":"main","message":"Fix token refresh (#123)"}`, "resource": "BABCDEFGHIJ", "resource_type": "build"},
		{"action": "env.set", "resource": "billing/SECRET_KEY_BASE", "resource_type": "env", "command": "convox env set FOO=bar BAZ=qux -a billing", "request_id": "0b7c6a4e-3d2f-4e1a-9b8c-7d6e5f4a3b2c"},
		{"action": "api_token.create", "details": `{"api_token_name":"ci-deployer","api_token_id":42,"permissions":["convox:deploy"]}`, "resource": "ci-deployer"},
		{"action": "token.validate", "status": "failed", "details": `{"error":"invalid token: signature mismatch"}`, "user_agent": "Go-http-client/1.1"},
		{"action": "user.sessions.revoke", "details": `{"token_type":"bearer","expires_in":3600}`, "resource": "01HVX9ZK3M4N5P6Q7R8S9T0V1W"},
		{"action": "log.read", "command": "convox logs -a billing --since 1h", "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"},
		{"action": "rack.params.set", "command": "convox rack params set node_type=t3.large", "details": `{"password_changed":false}`},
		{"action": "suspicious_activity", "status": "alert", "details": `{"reason":"authorization: denied by policy","count":12}`, "ip_address": "198.51.100.77"},
	}
	for _, m := range more {
		m["ts"], m["status"] = ts, cmpOr(m["status"], "success")
		m["user_email"] = "alice@example.com"
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func cmpOr(v any, def string) any {
	if v == nil {
		return def
	}
	return v
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// excerpt is the text around the first occurrence of what, for a failure.
func excerpt(s, what string) string {
	i := strings.Index(s, what)
	if i < 0 {
		return ""
	}
	return s[max(0, i-200):min(len(s), i+len(what)+100)]
}

// TestATemplatedRulesMessages: the rendered title in the fallback text and
// the blocks, only the listed fields, a value like <!channel> harmless,
// the time and mention lines kept; a reload changes the template live; a
// title that fails is counted and logged once.
func TestATemplatedRulesMessages(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	rule := func(title string) string {
		return `  - name: failures
    slack_channel: "#security"
    actions: ["login.*"]
    mention: [here]
    template:
      title: ` + jsonString(title) + `
      fields: [user, ip_address, details.reason]
`
	}
	d := newDaemon(t, s, testenv.Options{Channels: rule(`{{.user_name}} failed to log in from {{.ip_address | default "an unknown address"}}`)})
	d.Start()
	d.Append(whereEvent(1, "login.oauth_failed", "status", "failed", "user_name", "<!channel> Eve", "user_email", "eve@example.com",
		"ip_address", "198.51.100.23", "user_agent", "curl/8.5.0", "details", `{"reason":"bad password","attempt":3}`))
	p := waitPost(t, s, 1)
	wantText := "<!here>\n" +
		"🚨 &lt;!channel&gt; Eve failed to log in from 198.51.100.23\n" +
		"User: &lt;!channel&gt; Eve (eve@example.com)\n" +
		"ip_address: 198.51.100.23\n" +
		"details.reason: bad password\n" +
		"Time: "
	if !strings.HasPrefix(p.Text, wantText) {
		t.Errorf("text:\n%s\nwant it to start:\n%s", p.Text, wantText)
	}
	all := p.AllText()
	if strings.Count(all, `🚨 &lt;!channel&gt; Eve failed to log in from 198.51.100.23`) != 2 { // text and blocks
		t.Errorf("blocks lack the title: %s", p.Blocks)
	}
	for _, absent := range []string{"curl/8.5.0", "user_agent", "Status:", "request_id", "evt-0000001"} {
		if strings.Contains(all, absent) {
			t.Errorf("%q shows, but the template lists only user, ip_address and details.reason", absent)
		}
	}
	if strings.Count(all, "<!channel>") != 0 || strings.Count(all, "<!here>") != 2 {
		t.Errorf("pings: %s", all)
	}

	// Live on reload: the next event has the new title.
	d.WriteConfig(strings.Replace(readFile(t, d.ConfigPath), `failed to log in from`, `tried from`, 1))
	testenv.Eventually(t, 20*time.Second, "the reload", func() bool {
		return strings.Contains(d.Output(), "config reloaded")
	})
	d.Append(whereEvent(2, "login.oauth_failed", "status", "failed", "user_name", "Mallory", "ip_address", "203.0.113.9"))
	if p := waitPost(t, s, 2); !strings.Contains(p.Text, "🚨 Mallory tried from 203.0.113.9\n") {
		t.Errorf("after the reload:\n%s", p.Text)
	}

	// A title that fails on an event: the default heading, counted, logged once.
	d.WriteConfig(strings.Replace(readFile(t, d.ConfigPath), jsonString(`{{.user_name}} tried from {{.ip_address | default "an unknown address"}}`), jsonString(`{{trunc .user_name 3}}`), 1))
	testenv.Eventually(t, 20*time.Second, "the second reload", func() bool {
		return strings.Count(d.Output(), "config reloaded") >= 2
	})
	d.Append(whereEvent(3, "login.oauth_failed", "status", "failed", "user_name", "A"), whereEvent(4, "login.complete", "status", "success", "user_name", "B"))
	var got string
	testenv.Eventually(t, 30*time.Second, "events 3 and 4", func() bool {
		got = strings.Join(texts(s, idSecurity), "\n")
		return strings.Contains(got, "User: B")
	})
	if !strings.Contains(got, "🚨 login.oauth_failed\nUser: A") || !strings.Contains(got, "🔑 login.complete\nUser: B") {
		t.Errorf("no fallback to the default heading:\n%s", got)
	}
	testenv.Eventually(t, 10*time.Second, "template errors counted", func() bool {
		n, _ := d.Metric("auditfwd_template_errors_total", "channel=failures")
		return n == 2
	})
	if n := strings.Count(d.Output(), "title template failed"); n != 1 {
		t.Errorf("logged %d times, want once per rule:\n%s", n, d.Output())
	}
}

// waitPost waits for the n-th post (1-based) and returns it.
func waitPost(t *testing.T, s *fakeslack.Server, n int) fakeslack.Post {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	posts, err := s.WaitPosts(ctx, n)
	if err != nil {
		t.Fatalf("waiting for post %d: have %d", n, len(posts))
	}
	return posts[n-1]
}

// TestCheckRejectsABrokenTemplateWithFileAndLine runs the binary.
func TestCheckRejectsABrokenTemplateWithFileAndLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ yaml, want string }{
		{"      title: \"{{.user_email\"\n", `:6: channel "r": template.title: title:1: unclosed action`},
		{"      title: \"{{shout .user_email}}\"\n", `:6: channel "r": template.title: title:1: function "shout" not defined`},
		{"      fields: [user, ts]\n", `:6: channel "r": template.fields: field "ts": the time line is always shown`},
	} {
		d := testenv.New(t, testenv.Options{APIURL: "http://127.0.0.1:1/api/", Channels: "  - name: r\n    slack_channel: \"#r\"\n    actions: [logout]\n    template:\n" + c.yaml})
		// testenv's config has its own lines first: find the template's.
		_, errOut, code := d.Run("check", "--rules-only")
		line := lineOf(t, readFile(t, d.ConfigPath), strings.TrimSpace(c.yaml))
		want := d.ConfigPath + strings.Replace(c.want, ":6:", fmt.Sprintf(":%d:", line), 1)
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("check: exit %d, stderr %q, want %q", code, errOut, want)
		}
	}
	// A valid one: check shows its title for an example event.
	d := testenv.New(t, testenv.Options{APIURL: "http://127.0.0.1:1/api/", Channels: "  - name: r\n    slack_channel: \"#r\"\n    actions: [\"login.*_failed\"]\n    template:\n      title: \"{{upper .status}}: {{.user_email}}\"\n"})
	out, _, code := d.Run("check", "--rules-only")
	if code != 0 || !strings.Contains(out, `channel "r": title for an example login.oauth_failed event: "FAILED: jane@example.com"`) {
		t.Errorf("check: exit %d, %s", code, out)
	}
}

func detectorNames() []string {
	var out []string
	for _, d := range redact.Detectors() {
		out = append(out, d.Name)
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDryRunAndRouteExplainShowWhatIsRedacted: the dry run prints the
// redacted messages (the title too) and says what was redacted; route
// --explain shows each title and each redacted value.
func TestDryRunAndRouteExplainShowWhatIsRedacted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pass := "Sw0rd" + "fish-" + "9z"
	line := whereEvent(1, "login.oauth_failed", "status", "failed", "user_email", "eve@example.com", "ip_address", "198.51.100.23",
		"command", "psql postgres://app:"+pass+"@db/app")
	log := dir + "/audit.log"
	if err := os.WriteFile(log, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := configFile(t, `audit_log:
  path: `+log+`
state_dir: `+dir+`/state
channels:
  - name: failures
    slack_channel: "#security"
    actions: ["login.*"]
    template:
      title: "{{.user_email}} failed from {{.ip_address}}"
redact:
  fields: [ip_address]
`)
	out, errOut, code := cli(t, "", "run", "--dry-run", "--format", "text", "--config", path)
	want := "failures → #security: 🚨 eve@example.com failed from [redacted] · User: eve@example.com · Status: failed · redacted: field 2, url-password 1\n"
	if code != 0 || out != want || !strings.Contains(errOut, "  redacted: field 2, url-password 1\n") || strings.Contains(out+errOut, pass) {
		t.Errorf("dry run: exit %d\n%s\nwant\n%s\nstderr:\n%s", code, out, want, errOut)
	}
	out, _, code = cli(t, "", "run", "--dry-run", "--config", path)
	var m struct {
		Message  struct{ Text string }
		Redacted map[string]int
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || code != 0 {
		t.Fatalf("dry run JSON: %v, exit %d: %s", err, code, out)
	}
	if m.Redacted["url-password"] != 1 || m.Redacted["field"] != 2 || strings.Contains(out, pass) || !strings.HasPrefix(m.Message.Text, "🚨 eve@example.com failed from [redacted]\n") {
		t.Errorf("dry run JSON: %s", out)
	}

	out, _, code = cli(t, line+"\n", "route", "--explain", "--config", path)
	for _, w := range []string{
		`  title (failures): "eve@example.com failed from [redacted]"` + "\n",
		`  redacted command: "psql postgres://app:[redacted:url-password]@db/app"` + "\n",
		`  redacted ip_address: "[redacted]"` + "\n",
	} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("route --explain lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, pass) {
		t.Errorf("route --explain shows the secret:\n%s", out)
	}
}

// TestDeadLettersKeepTheOriginalRedeliverRedacts: the dead-letter file
// keeps the line as the gateway wrote it, on the host; redeliver posts it
// redacted and templated as a post is.
func TestDeadLettersKeepTheOriginalRedeliverRedacts(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: `
  - name: audit
    slack_channel: "#audit-new"
    actions: ["process.*"]
    template:
      title: "exec by {{.user_email}}: {{.command | trunc 30}}"
`})
	d.Start()
	tok := "ghp" + "_" + strings.Repeat("aB3", 12)
	d.Append(whereEvent(1, "process.exec", "user_email", "alice@example.com", "command", "git clone https://"+tok+"@github.com/acme/app"))
	deadPath := d.StateDir + "/dead-letter.jsonl"
	testenv.Eventually(t, 20*time.Second, "the dead letter", func() bool {
		data, _ := os.ReadFile(deadPath)
		return strings.Contains(string(data), "channel_not_found")
	})
	if data, _ := os.ReadFile(deadPath); !strings.Contains(string(data), tok) || !strings.Contains(string(data), `"template":"audit"`) {
		t.Errorf("the dead letter must keep the original line and name the template's rule: %s", data)
	}
	if fi, err := os.Stat(deadPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dead-letter.jsonl: %v, %v", fi.Mode(), err)
	}
	s.AddChannel("C0AUDITNEW1", "audit-new", true)
	if out, errOut, code := d.Run("redeliver"); code != 0 {
		t.Fatalf("redeliver exit %d: %s %s", code, out, errOut)
	}
	p := waitPost(t, s, 1)
	if strings.Contains(sentParams(s), tok) || !strings.HasPrefix(p.Text, "📝 exec by alice@example.com: git clone https://[redac") {
		t.Errorf("redelivered:\n%s", p.Text)
	}
}
