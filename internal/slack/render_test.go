package slack

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/layout"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Secrets are made up from pieces so that no scanner mistakes the
// repository for one that leaks them.
var (
	slackTok = "xox" + "b-1234567890123-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"
	awsID    = "AKIA" + "QWERTYUIOPASDFGH"
	pgPass   = "Hunter2" + "-x9Q"
)

type failure struct {
	rule  string
	first bool
}

func renderer(t *testing.T, o redact.Options, layouts ...*layout.Layout) (*Renderer, *[]failure) {
	t.Helper()
	red, err := redact.New(o)
	if err != nil {
		t.Fatal(err)
	}
	var fails []failure
	return NewRenderer(red, layouts, func(rule string, err error, first bool) { fails = append(fails, failure{rule, first}) }), &fails
}

func mustLayout(t *testing.T, rule, title string, fields []string) *layout.Layout {
	t.Helper()
	l, err := layout.New(rule, title, fields)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// everything is what Slack receives of a message: the fallback text and
// the blocks as sent (JSON).
func everything(t *testing.T, m Message) string {
	t.Helper()
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m.Blocks); err != nil {
		t.Fatal(err)
	}
	return m.Text + "\n" + b.String()
}

func secretEvent() event.Event {
	return event.Event{Action: "process.exec", TimeRaw: "2026-03-20T01:13:02Z", Time: time.Date(2026, 3, 20, 1, 13, 2, 0, time.UTC),
		Fields: []event.Field{
			{Key: "status", Value: "success"},
			{Key: "user_email", Value: "alice@example.com"},
			{Key: "command", Value: "psql postgres://app:" + pgPass + "@db/app -c 'select 1'"},
			{Key: "details", Value: `{"env":"SLACK_TOKEN=` + slackTok + `","key":"` + awsID + `","note":"ok"}`},
			{Key: "request_id", Value: "req-9f2c1a"},
		}}
}

func TestPackRedactsBeforeEscaping(t *testing.T) {
	r, _ := renderer(t, redact.Options{Secrets: true})
	ev := secretEvent()
	m, _ := r.Pack([]event.Event{ev}, Routing{})
	all := everything(t, m)
	for _, secret := range []string{slackTok, awsID, pgPass} {
		if strings.Contains(all, secret) {
			t.Errorf("%q reached the message:\n%s", secret, all)
		}
	}
	for _, want := range []string{"postgres://app:[redacted:url-password]@db/app", "[redacted:slack-token]", "[redacted:aws-access-key-id]", "req-9f2c1a", "alice@example.com"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	want := redact.Counts{"url-password": 1, "slack-token": 1, "aws-access-key-id": 1}
	if !reflect.DeepEqual(m.Redacted, want) {
		t.Errorf("Redacted = %v, want %v", m.Redacted, want)
	}
	if tm := TextOnly(m); !reflect.DeepEqual(tm.Redacted, want) {
		t.Errorf("TextOnly lost the counts: %v", tm.Redacted)
	}
}

func TestFieldGlobsHideValuesWhereverTheyShow(t *testing.T) {
	r, _ := renderer(t, redact.Options{Fields: []string{"command", "user_email", "details.key"}})
	ev := secretEvent()
	m, _ := r.Pack([]event.Event{ev}, Routing{})
	for _, want := range []string{"User: [redacted]", "command: [redacted]", `"key":"[redacted]"`} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "alice@example.com") || strings.Contains(m.Text, "psql") {
		t.Errorf("a hidden field shows:\n%s", m.Text)
	}
	if m.Redacted[redact.FieldLabel] != 3 {
		t.Errorf("Redacted = %v, want 3 field", m.Redacted)
	}
}

func TestASecretCutByTheLimitIsStillFound(t *testing.T) {
	r, _ := renderer(t, redact.Options{Secrets: true})
	// The token straddles the context value's cut: the part shown must
	// not be a prefix of it.
	long := strings.Repeat("a", capValue-10) + " " + slackTok
	m, _ := r.Pack([]event.Event{{Action: "x", Fields: []event.Field{{Key: "command", Value: long}}}}, Routing{})
	if strings.Contains(m.Text, slackTok[:10]) {
		t.Errorf("a cut secret leaked its start: …%s", m.Text[len(m.Text)-40:])
	}
}

func TestTemplateTitleAndFields(t *testing.T) {
	l := mustLayout(t, "failures", "{{.user_name}} failed to log in from {{.ip_address | default \"?\"}} <!here>", []string{"status", "ip_address", "details.reason", "user"})
	r, _ := renderer(t, redact.Options{Secrets: true}, l)
	ev := event.Event{Action: "login.oauth_failed", TimeRaw: "2026-03-20T01:13:02Z", Time: time.Date(2026, 3, 20, 1, 13, 2, 0, time.UTC),
		Fields: []event.Field{
			{Key: "status", Value: "failed"},
			{Key: "user_name", Value: "<!channel> *bold*"},
			{Key: "user_email", Value: "eve@example.com"},
			{Key: "ip_address", Value: "198.51.100.23"},
			{Key: "user_agent", Value: "curl/8.5.0"},
			{Key: "details", Value: `{"reason":"token=` + pgPass + `"}`},
		}}
	m, _ := r.Pack([]event.Event{ev}, Routing{Mentions: [][]string{{"here"}}, Templates: []string{"failures"}})
	wantText := "<!here>\n" +
		"🚨 &lt;!channel&gt; ∗bold∗ failed to log in from 198.51.100.23 &lt;!here&gt;\n" +
		"Status: failed\n" +
		"ip_address: 198.51.100.23\n" +
		"details.reason: token=[redacted:secret-assignment]\n" +
		"User: &lt;!channel&gt; ∗bold∗ (eve@example.com)\n" +
		"Time: 2026-03-20T01:13:02Z"
	if m.Text != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", m.Text, wantText)
	}
	blocks := everything(t, Message{Blocks: m.Blocks})
	if !strings.Contains(blocks, "*🚨 &lt;!channel&gt; ∗bold∗ failed to log in from 198.51.100.23 &lt;!here&gt;*\\n*Status:* failed\\n*ip_address:*") {
		t.Errorf("blocks lack the title: %s", blocks)
	}
	if strings.Contains(m.Text, "user_agent") || strings.Contains(blocks, "curl/8.5.0") {
		t.Error("a field the template does not list is shown")
	}
	if strings.Count(everything(t, m), "<!here>") != 2 { // the mention line, in text and blocks
		t.Errorf("the only ping must be the mention line:\n%s", everything(t, m))
	}
}

func TestATitleThatFailsFallsBackOncePerRuleLogged(t *testing.T) {
	l := mustLayout(t, "security", "{{trunc .user_email .status}}", nil)
	r, fails := renderer(t, redact.Options{}, l)
	ev := secretEvent()
	for range 3 {
		m, _ := r.Pack([]event.Event{ev}, Routing{Templates: []string{"security"}})
		if !strings.HasPrefix(m.Text, "📝 process.exec\nUser: alice@example.com") {
			t.Fatalf("no fallback to the default heading:\n%s", m.Text)
		}
		if m.TemplateErrors["security"] != 1 {
			t.Errorf("TemplateErrors = %v", m.TemplateErrors)
		}
	}
	if len(*fails) != 3 || !(*fails)[0].first || (*fails)[1].first || (*fails)[0].rule != "security" {
		t.Errorf("failures = %+v, want 3 for security, the first one first", *fails)
	}
}

func TestADigestShowsEachEventWithItsOwnTemplate(t *testing.T) {
	l := mustLayout(t, "mine", "MINE {{.user_email}}", []string{"user"})
	r, _ := renderer(t, redact.Options{Secrets: true}, l)
	a, b := secretEvent(), secretEvent()
	b.Fields[1].Value = "bob@example.com"
	m, n := r.Pack([]event.Event{a, b}, Routing{Templates: []string{"", "mine"}})
	if n != 2 {
		t.Fatalf("n = %d", n)
	}
	if !strings.Contains(m.Text, "📝 process.exec\nUser: alice@example.com\nStatus: success") || !strings.Contains(m.Text, "📝 MINE bob@example.com\nUser: bob@example.com\nTime:") {
		t.Errorf("digest:\n%s", m.Text)
	}
	// Only the first event has its command (and its secrets) shown.
	if m.Redacted["url-password"] != 1 || m.Redacted["slack-token"] != 1 {
		t.Errorf("Redacted = %v", m.Redacted)
	}
}

func TestTitleForCheckAndRoute(t *testing.T) {
	l := mustLayout(t, "r", "{{.details.key}} by {{.user_email}}", nil)
	r, _ := renderer(t, redact.Options{Secrets: true}, l)
	ev := secretEvent()
	got, n, err := r.Title("r", &ev)
	if err != nil || got != "[redacted:aws-access-key-id] by alice@example.com" || n["aws-access-key-id"] != 1 {
		t.Errorf("Title = %q, %v, %v", got, n, err)
	}
	if got, _, _ := r.Title("r", &event.Event{Fields: []event.Field{{Key: "user_email", Value: "<b>"}}}); got != " by <b>" {
		t.Errorf("Title is plain text: %q", got)
	}
	if got, _, err := r.Title("other", &ev); got != "" || err != nil {
		t.Errorf("a rule without a template: %q, %v", got, err)
	}
	red := r.Redactions(&ev)
	if len(red) != 2 || red[0].Key != "command" || red[1].Key != "details" || strings.Contains(red[1].Value, awsID) {
		t.Errorf("Redactions = %+v", red)
	}
}

func TestParentRedactsWhatTheThreadShows(t *testing.T) {
	r, _ := renderer(t, redact.Options{Secrets: true, Fields: []string{"details.message", "user_email"}})
	line := []byte(`{"action":"deploy_approval_request.create","details":"{\"message\":\"ship it\",\"git_branch\":\"main\"}","resource":"dar_` + slackTok + `","status":"success","ts":"2026-03-20T01:14:00Z","user_email":"bob@example.com","user_name":"Bob"}`)
	ev, err := event.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	spec := threads.Spec{Approval: true}
	th := threads.New("alerts", spec.Key(&ev), spec, &ev, line, now)
	approve := event.Event{Action: "deploy_approval_request.approve", Fields: []event.Field{
		{Key: "status", Value: "success"}, {Key: "resource", Value: ev.Get("resource")},
		{Key: "user_email", Value: "carol@example.com"}, {Key: "notes", Value: "token=" + pgPass}}}
	d := threads.Decide(&th, threads.Input{Channel: "alerts", Spec: spec, Key: th.Key, Event: &approve,
		Line: []byte(`{"action":"deploy_approval_request.approve"}`), Now: now})
	th = d.Thread
	m := r.Parent(&th)
	all := everything(t, m)
	for _, leak := range []string{slackTok, pgPass, "ship it", "bob@example.com", "carol@example.com"} {
		if strings.Contains(all, leak) {
			t.Errorf("%q reached the parent:\n%s", leak, m.Text)
		}
	}
	if !strings.Contains(m.Text, "Branch: main") || !strings.Contains(m.Text, "approved by [redacted]") {
		t.Errorf("parent:\n%s", m.Text)
	}
	if m.Redacted["slack-token"] == 0 || m.Redacted["secret-assignment"] == 0 || m.Redacted[redact.FieldLabel] == 0 {
		t.Errorf("Redacted = %v", m.Redacted)
	}
}

func TestThreadByParentRedactsItsKey(t *testing.T) {
	r, _ := renderer(t, redact.Options{Fields: []string{"ip_address"}})
	line := []byte(`{"action":"login.oauth_failed","ip_address":"198.51.100.23","status":"failed"}`)
	ev, _ := event.Parse(line)
	spec := threads.Spec{By: "ip_address", Window: time.Hour}
	th := threads.New("sec", spec.Key(&ev), spec, &ev, line, time.Now())
	if m := r.Parent(&th); strings.Contains(everything(t, m), "198.51.100.23") {
		t.Errorf("the key's value shows:\n%s", m.Text)
	}
}

// TestEveryThreadValueIsRedactedOrNotShown guards Renderer.thread: a value
// a thread keeps from its events must be redacted there, or be something
// a parent never shows. A new field fails here until it is placed.
func TestEveryThreadValueIsRedactedOrNotShown(t *testing.T) {
	redacted := map[string]bool{
		"Thread.Key": true, "Thread.First": true, // First is laid out by parts, field by field
		"Thread.FirstNotApplied": true, // by notedParts
		"Latest.Action":          true, "Latest.Status": true, "Latest.TimeRaw": true, "Latest.Actor": true,
		"Request.ID": true, "Request.Requester": true, "Request.App": true, "Request.Rack": true, "Request.Branch": true, "Request.Commit": true,
		"Request.Message": true, "Request.By": true, "Request.AtRaw": true, "Request.Until": true, "Request.ExtendBy": true, "Request.Notes": true,
	}
	notShown := map[string]bool{
		"Thread.Channel": true, "Thread.SlackChannel": true, "Thread.TS": true, "Thread.NoEdit": true, "Request.State": true,
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[threads.Thread](), reflect.TypeFor[threads.Latest](), reflect.TypeFor[threads.Request]()} {
		for f := range typ.Fields() {
			if f.Type.Kind() != reflect.String && f.Type != reflect.TypeFor[json.RawMessage]() {
				continue
			}
			name := typ.Name() + "." + f.Name
			if !redacted[name] && !notShown[name] {
				t.Errorf("%s: a thread value that Renderer.thread neither redacts nor knows to be unshown", name)
			}
		}
	}
}
