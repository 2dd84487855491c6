package slack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

var when = time.Date(2026, 3, 20, 1, 12, 44, 0, time.UTC)

// ev builds an event with the given fields (key, value pairs).
func ev(action string, kv ...string) event.Event {
	e := event.Event{Action: action, Time: when, TimeRaw: when.Format(time.RFC3339)}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields = append(e.Fields, event.Field{Key: kv[i], Value: kv[i+1]})
	}
	return e
}

// texts returns every text string of m's blocks, decoded from the JSON that
// slack-go would send.
func texts(t *testing.T, m Message) []string {
	t.Helper()
	raw, err := json.Marshal(m.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []struct {
		Type     string `json:"type"`
		Text     *struct{ Type, Text string }
		Fields   []struct{ Type, Text string }
		Elements []struct{ Type, Text string }
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range blocks {
		if b.Text != nil {
			out = append(out, b.Text.Text)
		}
		for _, f := range b.Fields {
			out = append(out, f.Text)
		}
		for _, e := range b.Elements {
			out = append(out, e.Text)
		}
	}
	return out
}

var dateToken = regexp.MustCompile(`<!date\^-?[0-9]+\^\{date_short_pretty\} \{time_secs\}\|[0-9TZ:-]+>`)

// assertEscaped fails when any text could reach Slack as markup: after our
// own <!date^…> tokens are removed no '<' or '>' may remain, and every '&'
// must start an entity.
func assertEscaped(t *testing.T, what, s string) {
	t.Helper()
	rest := dateToken.ReplaceAllString(s, "")
	if i := strings.IndexAny(rest, "<>"); i >= 0 {
		t.Errorf("%s: unescaped %q near %q", what, rest[i], around(rest, i))
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] != '&' {
			continue
		}
		tail := rest[i:]
		if !strings.HasPrefix(tail, "&amp;") && !strings.HasPrefix(tail, "&lt;") && !strings.HasPrefix(tail, "&gt;") {
			t.Errorf("%s: bare or broken entity near %q", what, around(rest, i))
		}
	}
}

func around(s string, i int) string {
	return s[max(0, i-20):min(len(s), i+20)]
}

// checkLimits fails when m breaks one of Slack's limits that Pack promises.
func checkLimits(t *testing.T, m Message) {
	t.Helper()
	if len(m.Blocks) > maxBlocks {
		t.Errorf("%d blocks", len(m.Blocks))
	}
	if n := utf8.RuneCountInString(m.Text); n > maxText {
		t.Errorf("text has %d runes", n)
	}
	total := 0
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *slackapi.SectionBlock:
			if n := units(b.Text.Text); n > maxSectionText {
				t.Errorf("section text has %d units", n)
			}
			total += units(b.Text.Text)
		case *slackapi.ContextBlock:
			if len(b.ContextElements.Elements) > maxContextElems {
				t.Errorf("context block has %d elements", len(b.ContextElements.Elements))
			}
			for _, e := range b.ContextElements.Elements {
				tx := e.(*slackapi.TextBlockObject).Text
				if n := units(tx); n > maxContextText || n == 0 {
					t.Errorf("context element has %d units", n)
				}
				total += units(tx)
			}
		case *slackapi.DividerBlock:
		default:
			t.Errorf("unexpected block %T", b)
		}
	}
	if total > maxBlocksText {
		t.Errorf("blocks carry %d units of text", total)
	}
}

const evil = "<!channel> <!here> <@U1> <#C1> <!subteam^X> <http://x|y> & &amp; <!everyone>"

func TestPackEscapesEveryValue(t *testing.T) {
	e := ev("login.complete<!channel>",
		"user_name", evil, "user_email", evil, "status", evil, "resource", evil,
		"resource_type", evil, "command", evil, "x<!here>", evil, "details", `{"a":"<@U2>"}`)
	raw := ev("api_token.create", "api_token_name", evil, "user_email", evil)
	raw.Time, raw.TimeRaw = time.Time{}, "<!channel> not a time"

	cases := map[string]Message{}
	cases["single"], _ = Pack([]event.Event{e}, false)
	cases["alert"], _ = Pack([]event.Event{e}, true)
	cases["token"], _ = Pack([]event.Event{raw}, false)
	digest, n := Pack([]event.Event{e, raw, e}, false)
	if n != 3 {
		t.Fatalf("digest packed %d of 3", n)
	}
	cases["digest"] = digest
	cases["textonly"] = TextOnly(digest)
	cases["test"] = TestMessage(evil, evil, when)

	for name, m := range cases {
		assertEscaped(t, name+" text", m.Text)
		for _, s := range texts(t, m) {
			assertEscaped(t, name+" block", s)
		}
		all := m.Text + strings.Join(texts(t, m), "\n")
		if !strings.Contains(all, "&lt;!channel&gt;") {
			t.Errorf("%s: escaped <!channel> missing", name)
		}
		if name != "textonly" && name != "test" && !strings.Contains(all, "&amp;amp;") {
			t.Errorf("%s: & not escaped first", name)
		}
		// texts decodes the blocks' JSON as Slack would read it.
		decoded := dateToken.ReplaceAllString(strings.Join(texts(t, m), "\n"), "")
		for _, bad := range []string{"<!", "<@", "<#", "<http"} {
			if strings.Contains(decoded, bad) || strings.Contains(m.Text, bad) {
				t.Errorf("%s: %q survived", name, bad)
			}
		}
	}
}

func TestEmoji(t *testing.T) {
	for _, c := range []struct {
		action, status, want string
	}{
		{"deploy_approval_request.approved", "success", "🚀"},
		{"deploy_approval_request.create", "", "🚀"},
		{"deploy_approval_request.approve", "denied", "❌"},
		{"mfa_method.enroll", "success", "🔐"},
		{"mfa.verify.failed", "failed", "🚨"},
		{"mfa_preferences.update", "alert", "🚨"},
		{"login.complete", "success", "🔑"},
		{"login.complete", "", "🔑"},
		{"login.oauth_failed", "failed", "🚨"},
		{"login.user_not_authorized", "denied", "🚨"},
		{"logout", "success", "🔑"},
		{"api_token.create", "success", "🔑"},
		{"token.validate", "success", "🔑"},
		{"api_token.create", "error", "❌"},
		{"release.promote", "failed", "❌"},
		{"app.delete", "denied", "❌"},
		{"env.set", "error", "❌"},
		{"release.promote", "success", "📝"},
		{"suspicious_activity", "alert", "📝"},
		{"logoutx", "success", "📝"},
	} {
		e := ev(c.action, "status", c.status)
		if got := emoji(&e); got != c.want {
			t.Errorf("%s/%s: got %s, want %s", c.action, c.status, got, c.want)
		}
		m, _ := Pack([]event.Event{e}, false)
		if !strings.HasPrefix(m.Text, c.want+" "+c.action+"\n") {
			t.Errorf("%s/%s: text starts %q", c.action, c.status, m.Text[:min(40, len(m.Text))])
		}
	}
}

func TestFallbackTextShape(t *testing.T) {
	e := ev("deploy_approval_request.approved", "status", "success", "user_email", "admin@example.com")
	e.Time, e.TimeRaw = time.Time{}, ""
	m, n := Pack([]event.Event{e}, false)
	want := "🚀 deploy_approval_request.approved\nUser: admin@example.com\nStatus: success"
	if n != 1 || m.Text != want {
		t.Errorf("text = %q, want %q", m.Text, want)
	}

	e = ev("deploy_approval_request.approved", "status", "success", "user_email", "admin@example.com", "resource", "myapp", "resource_type", "app")
	m, _ = Pack([]event.Event{e}, false)
	if !strings.HasPrefix(m.Text, want+"\n") {
		t.Errorf("text = %q, want prefix %q", m.Text, want)
	}
	if !strings.Contains(m.Text, "\nResource: myapp (app)") || !strings.Contains(m.Text, "\nTime: 2026-03-20T01:12:44Z") {
		t.Errorf("text = %q", m.Text)
	}

	a, _ := Pack([]event.Event{e}, true)
	if !strings.HasPrefix(a.Text, "🚀 Deploy approval request approved\n"+want) {
		t.Errorf("alert text = %q", a.Text)
	}
	if got := texts(t, a)[0]; !strings.Contains(got, "Deploy approval request approved") {
		t.Errorf("alert heading = %q", got)
	}
}

// An alert posted on its own says what its event did to the request.
func TestAlertHeadingNamesWhatHappened(t *testing.T) {
	for _, c := range []struct {
		action, status, want string
	}{
		{"deploy_approval_request.create", "success", "🚀 Deploy approval requested"},
		{"deploy_approval_request.created", "", "🚀 Deploy approval requested"},
		{"deploy_approval_request.approve", "success", "🚀 Deploy approval request approved"},
		{"deploy_approval_request.approved", "success", "🚀 Deploy approval request approved"},
		{"deploy_approval_request.reject", "success", "🚀 Deploy approval request rejected"},
		{"deploy_approval_request.extend", "success", "🚀 Deploy approval request extended"},
		{"deploy_approval_request.expired", "success", "🚀 Deploy approval request expired"},
		{"deploy_approval_request.approve", "denied", "🚀 Deploy approval request: approve denied"},
		{"deploy_approval_request.cancel", "success", "🚀 Deploy approval request: cancel"},
		{"deploy_approval_request.<b>", "<x>", "🚀 Deploy approval request: &lt;b&gt; &lt;x&gt;"},
		{"release.promote", "success", "🚀 Deploy approval alert"},
	} {
		m, _ := Pack([]event.Event{ev(c.action, "status", c.status)}, true)
		if heading, _, _ := strings.Cut(m.Text, "\n"); heading != c.want {
			t.Errorf("%s (%s): heading %q, want %q", c.action, c.status, heading, c.want)
		}
	}
}

func TestUserDisplay(t *testing.T) {
	for _, c := range []struct {
		name     string
		kv       []string
		want     string
		inCtx    []string
		notInCtx []string
	}{
		{"name and email", []string{"user_name", "Ada", "user_email", "ada@example.com"}, "Ada (ada@example.com)", nil, []string{"user_name", "user_email"}},
		{"email", []string{"user_email", "ada@example.com"}, "ada@example.com", nil, []string{"user_email"}},
		{"name", []string{"user_name", "Ada"}, "Ada", nil, []string{"user_name"}},
		{"token", []string{"api_token_name", "ci-deployer", "api_token_id", "7", "user_email", "owner@example.com"},
			"API token: ci-deployer", []string{"user_email: owner@example.com", "api_token_id: 7"}, []string{"api_token_name"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := Pack([]event.Event{ev("login.complete", c.kv...)}, false)
			if !strings.Contains(m.Text, "\nUser: "+c.want+"\n") {
				t.Errorf("text %q lacks User: %s", m.Text, c.want)
			}
			ts := texts(t, m)
			if !strings.Contains(ts[0], "*User:* "+c.want) {
				t.Errorf("section %q lacks user", ts[0])
			}
			ctx := strings.Join(ts[1:], "\n")
			for _, s := range c.inCtx {
				if !strings.Contains(ctx, s) {
					t.Errorf("context %q lacks %q", ctx, s)
				}
			}
			for _, s := range c.notInCtx {
				if strings.Contains(ctx, s+":") {
					t.Errorf("context %q repeats %q", ctx, s)
				}
			}
		})
	}
}

func TestNoFieldSpoofing(t *testing.T) {
	e := ev("login.complete", "user_email", "mallory@example.com\nStatus: success\r\nUser: admin", "status", "failed",
		"note", "a\u2028Status: ok")
	m, _ := Pack([]event.Event{e}, false)
	for _, s := range append(texts(t, m), m.Text) {
		for _, line := range strings.Split(s, "\n") {
			if strings.HasPrefix(line, "Status: success") || strings.HasPrefix(line, "User: admin") || strings.ContainsRune(line, 0x2028) {
				t.Errorf("spoofed line %q", line)
			}
		}
	}
}

func TestTimeDisplay(t *testing.T) {
	e := ev("release.promote")
	m, _ := Pack([]event.Event{e}, false)
	want := fmt.Sprintf("<!date^%d^{date_short_pretty} {time_secs}|2026-03-20T01:12:44Z>", when.Unix())
	if !strings.Contains(texts(t, m)[0], "*Time:* "+want) {
		t.Errorf("section %q lacks %q", texts(t, m)[0], want)
	}
	if !strings.Contains(m.Text, "\nTime: 2026-03-20T01:12:44Z") {
		t.Errorf("text %q", m.Text)
	}

	e.Time, e.TimeRaw = time.Time{}, "yesterday"
	m, _ = Pack([]event.Event{e}, false)
	if !strings.Contains(texts(t, m)[0], "*Time:* yesterday") || strings.Contains(m.Text, "<!date") {
		t.Errorf("raw time: %q / %q", texts(t, m)[0], m.Text)
	}

	e.TimeRaw = ""
	m, _ = Pack([]event.Event{e}, false)
	if strings.Contains(texts(t, m)[0], "Time") || strings.Contains(m.Text, "Time") {
		t.Errorf("no time: %q / %q", texts(t, m)[0], m.Text)
	}
}

func TestFieldsShown(t *testing.T) {
	e := ev("release.promote", "action_type", "convox", "resource", "myapp", "resource_type", "app",
		"status", "success", "http_status", "200", "my_custom_key", "surprise", "latency_ms", "12")
	m, _ := Pack([]event.Event{e}, false)
	ts := texts(t, m)
	if !strings.Contains(ts[0], "*Resource:* myapp (app)") || !strings.Contains(ts[0], "*Status:* success") {
		t.Errorf("section %q", ts[0])
	}
	want := []string{"action_type: convox", "http_status: 200", "my_custom_key: surprise", "latency_ms: 12"}
	if got := ts[1:]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("context = %q, want %q", got, want)
	}
	for _, w := range want {
		if !strings.Contains(m.Text, "\n"+w) {
			t.Errorf("text lacks %q", w)
		}
	}

	// resource_type without resource stays a context field.
	m, _ = Pack([]event.Event{ev("x.y", "resource_type", "app")}, false)
	if ts := texts(t, m); len(ts) != 2 || ts[1] != "resource_type: app" {
		t.Errorf("texts = %q", ts)
	}
}

func TestLongValuesAreCut(t *testing.T) {
	big := strings.Repeat("a<&>é😀", 100<<10/12)
	e := ev("release.promote"+big, "user_name", big, "user_email", big, "status", big, "resource", big,
		"resource_type", big, "command", big, big, big, "other", big, "third", big, "fourth", big,
		"fifth", big, "sixth", big, "seventh", big)
	e.Time, e.TimeRaw = time.Time{}, big
	m, n := Pack([]event.Event{e}, false)
	if n != 1 {
		t.Fatalf("n = %d", n)
	}
	checkLimits(t, m)
	for _, s := range texts(t, m) {
		assertEscaped(t, "block", s)
	}
	assertEscaped(t, "text", m.Text)
	if !strings.Contains(m.Text, "…") {
		t.Error("nothing was cut")
	}
	if last := texts(t, m)[len(texts(t, m))-1]; !strings.Contains(last, "more fields not shown") {
		t.Errorf("last element %q", last)
	}
	postAll(t, m, TextOnly(m))

	// Many small fields: more than 50 blocks' worth of context.
	kv := make([]string, 0, 2000)
	for i := range 1000 {
		kv = append(kv, fmt.Sprintf("k%04d", i), "v")
	}
	m, _ = Pack([]event.Event{ev("x.y", kv...)}, true)
	checkLimits(t, m)
	if len(m.Blocks) != maxBlocks {
		t.Errorf("%d blocks", len(m.Blocks))
	}
	postAll(t, m)
}

func TestClipNeverSplitsEntities(t *testing.T) {
	s := Value(strings.Repeat("<&>x😀é", 20))
	for max := 2; max < units(s)+2; max++ {
		c := clip(s, max)
		if units(c) > max {
			t.Fatalf("clip(%d) has %d units", max, units(c))
		}
		if !utf8.ValidString(c) {
			t.Fatalf("clip(%d) is not UTF-8", max)
		}
		assertEscaped(t, fmt.Sprint("clip ", max), c)
	}
	if got := escClip("abc", 3); got != "abc" {
		t.Errorf("escClip = %q", got)
	}
	if got := escClip("abcd", 3); got != "ab…" {
		t.Errorf("escClip = %q", got)
	}
	if got := escClip("a&b", 3); got != "a…" {
		t.Errorf("escClip = %q", got)
	}
}

func TestDigest(t *testing.T) {
	var events []event.Event
	for i := range 200 {
		events = append(events, ev("release.promote", "user_email", "dev@example.com", "status", "success",
			"resource", "myapp", "resource_type", "app", "marker", fmt.Sprintf("M%03dM", i), "command", "convox releases promote"))
	}
	seen := map[string]int{}
	rest := events
	var msgs int
	for len(rest) > 0 {
		m, n := Pack(rest, false)
		if n < 1 || n > len(rest) {
			t.Fatalf("n = %d of %d", n, len(rest))
		}
		if len(rest) > 1 && n == len(rest) && len(rest) > 20 {
			t.Fatalf("packed all %d events into one message", n)
		}
		checkLimits(t, m)
		if n > 1 {
			if h := texts(t, m)[0]; h != fmt.Sprintf("*%d audit events*", n) {
				t.Errorf("heading %q", h)
			}
			if !strings.HasPrefix(m.Text, fmt.Sprintf("%d audit events\n\n", n)) {
				t.Errorf("text starts %q", m.Text[:30])
			}
		}
		// Each event fully shown, in order, in blocks and in text.
		all := strings.Join(texts(t, m), "\n")
		last := -1
		for _, e := range rest[:n] {
			mk := e.Get("marker")
			i := strings.Index(all, "marker: "+mk)
			if i < last {
				t.Errorf("%s out of order", mk)
			}
			last = i
			if !strings.Contains(m.Text, "marker: "+mk) {
				t.Errorf("text lacks %s", mk)
			}
		}
		for _, mk := range regexp.MustCompile(`M\d{3}M`).FindAllString(all, -1) {
			seen[mk]++
		}
		postAll(t, m)
		rest = rest[n:]
		msgs++
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct events shown", len(seen))
	}
	for mk, c := range seen {
		if c != 1 {
			t.Errorf("%s shown %d times", mk, c)
		}
	}
	if msgs > 20 {
		t.Errorf("%d messages for 200 events", msgs)
	}

	// Large events: the digest stops early rather than cut one.
	big := strings.Repeat("x", 1800)
	var large []event.Event
	for range 10 {
		large = append(large, ev("release.promote", "a", big, "b", big, "c", big))
	}
	m, n := Pack(large, false)
	if n < 1 || n >= 10 {
		t.Errorf("n = %d", n)
	}
	checkLimits(t, m)
	if strings.Contains(strings.Join(texts(t, m), ""), "…") {
		t.Error("digest event was cut")
	}

	// A first event too large for a digest is sent alone, cut.
	huge := ev("release.promote", "a", big, "b", big, "c", big, "d", big, "e", big, "f", big, "g", big)
	m, n = Pack([]event.Event{huge, large[0]}, false)
	if n != 1 || strings.Contains(m.Text, "audit events") {
		t.Errorf("n = %d, text %q", n, m.Text[:40])
	}
	checkLimits(t, m)

	// Alert digest.
	m, n = Pack(large[:2], true)
	if n != 2 || !strings.HasPrefix(m.Text, "🚀 2 deploy approval requests") {
		t.Errorf("alert digest n=%d %q", n, m.Text[:40])
	}
	if m, n := Pack(nil, false); n != 0 || m.Text != "" {
		t.Errorf("empty pack: %d", n)
	}
}

func TestTestMessage(t *testing.T) {
	m := TestMessage("security", "#security", when)
	all := m.Text + strings.Join(texts(t, m), "\n")
	for _, want := range []string{"security", "#security", "test", "auditfwd"} {
		if !strings.Contains(all, want) {
			t.Errorf("test message lacks %q: %s", want, all)
		}
	}
	postAll(t, m)
}

func TestTextOnly(t *testing.T) {
	m := TextOnly(Message{Text: Value(strings.Repeat("&", 50000)), Blocks: []slackapi.Block{section("x")}})
	if m.Blocks != nil || utf8.RuneCountInString(m.Text) > maxText || !strings.HasSuffix(m.Text, "&amp;…") {
		t.Errorf("TextOnly: %d blocks, %d runes, ends %q", len(m.Blocks), utf8.RuneCountInString(m.Text), m.Text[len(m.Text)-10:])
	}
	postAll(t, m)
}

// postAll posts each message to a fake Slack and fails on any error: the
// fake validates like Slack.
func postAll(t *testing.T, ms ...Message) {
	t.Helper()
	fs, c := newFake(t)
	for _, m := range ms {
		if _, err := c.Post(t.Context(), "C0GENERAL1", m); err != nil {
			t.Fatalf("post: %v", err)
		}
	}
	for _, p := range fs.Posts() {
		if strings.Contains(p.AllText(), "<!channel>") {
			t.Error("<!channel> reached Slack")
		}
	}
}

func newFake(t testing.TB) (*fakeslack.Server, *Client) {
	t.Helper()
	fs, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	fs.AddToken("xoxb-good")
	fs.AddChannel("C0GENERAL1", "general", true)
	return fs, New(Options{APIURL: fs.URL, Token: "xoxb-good", Timeout: 10 * time.Second})
}

func BenchmarkPackSingle(b *testing.B) {
	e := ev("deploy_approval_request.approved", "action_type", "convox", "api_token_id", "12", "api_token_name", "ci",
		"command", "convox releases promote", "ip_address", "10.0.0.1", "resource", "myapp", "resource_type", "app",
		"status", "success", "user_agent", "convox/3.0", "user_email", "admin@example.com", "user_name", "Admin")
	events := []event.Event{e}
	b.ReportAllocs()
	for b.Loop() {
		Pack(events, false)
	}
}

func BenchmarkPackDigest(b *testing.B) {
	var events []event.Event
	for i := range 100 {
		events = append(events, ev("release.promote", "action_type", "convox", "command", "convox releases promote",
			"ip_address", "10.0.0.1", "resource", fmt.Sprint("app", i), "resource_type", "app", "status", "success",
			"user_email", "dev@example.com", "user_name", "Dev"))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, n := Pack(events, false); n < 2 {
			b.Fatal(n)
		}
	}
}
