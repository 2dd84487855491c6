package main

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

const idRBAC = "C0RBAC00001"

// Mention tokens as Slack renders them.
const (
	tokOncall = "<!subteam^S0SECURITY>"
	tokHere   = "<!here>"
	tokOps    = "<@U0OPS>"
	tokEU     = "<@W0EU>"
)

// whereRules are six rules: status filters, ! exclusions, numbers, a
// missing field, a key most events lack, and two pairs of rules sharing a
// Slack channel with different mentions.
const whereRules = `
  - name: failures
    slack_channel: "#security"
    actions: ["login.*", "mfa*"]
    where:
      status: [failed, denied, error]
    mention: [S0SECURITY]
  - name: humans
    slack_channel: "security"
    actions: ["login.*", "api_token.*"]
    where:
      user_email: ["!*@bots.example.com"]
      api_token_name: [""]
    mention: [here]
  - name: server-errors
    slack_channel: "#ops"
    actions: ["*"]
    where:
      http_status: ["5??", 429]
    mention: [U0OPS]
  - name: rbac
    slack_channel: "#rbac"
    actions: ["*"]
    where:
      rbac_decision: [deny]
  - name: prod
    slack_channel: "#infrastructure"
    actions: ["release.*", "deploy_approval_request.*"]
    where:
      resource: ["prod-*", "!prod-sandbox*"]
      latency_ms: ["!0"]
  - name: eu
    slack_channel: "#ops"
    actions: ["*"]
    where:
      region: ["eu-*"]
    mention: [W0EU, here]
`

// whereEvent is an audit line with a unique marker in request_id; kv are
// field, value pairs, the value written as JSON (nil is null).
func whereEvent(n int, action string, kv ...any) string {
	fields := map[string]any{"action": action, "request_id": testenv.Marker(n), "ts": time.Now().UTC().Format(time.RFC3339)}
	for i := 0; i+1 < len(kv); i += 2 {
		fields[kv[i].(string)] = kv[i+1]
	}
	keys := slices.Sorted(maps.Keys(fields)) // the gateway writes keys in order
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kj, _ := json.Marshal(k)
		b.Write(kj)
		b.WriteByte(':')
		switch v := fields[k].(type) {
		case rawJSON:
			b.WriteString(string(v))
		default:
			vj, _ := json.Marshal(v)
			b.Write(vj)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// rawJSON is a value written as is: 0.0, 1e3.
type rawJSON string

// routed says where one event must land: Slack channel ID → the mention
// tokens of the message there.
type routed map[string][]string

// whereEvents is the table: 36 events through whereRules, and where each
// must land with which mentions (nowhere else). Two sentinels come last:
// once one reached a channel, so did everything before it there (per
// channel, log order).
func whereEvents() []whereCase {
	const evil = "<!subteam^S1> <!here> <@U1> <!channel>"
	return []whereCase{
		{1, "login.complete", []any{"status", "success", "user_email", "alice@example.com"}, routed{idSecurity: {tokHere}}},
		{2, "login.oauth_failed", []any{"status", "failed", "user_email", "mallory@example.net"}, routed{idSecurity: {tokOncall, tokHere}}},
		{3, "login.oauth_failed", []any{"status", "failed", "user_email", "ci@bots.example.com"}, routed{idSecurity: {tokOncall}}},
		{4, "login.complete", []any{"status", "success", "user_email", "ci@bots.example.com"}, routed{}},
		{5, "login.complete", []any{"status", "success", "user_email", "alice@example.com", "api_token_name", "ci-token"}, routed{}},
		{6, "login.complete", []any{"status", "success", "user_email", "alice@example.com", "api_token_name", nil}, routed{idSecurity: {tokHere}}},
		{7, "login.complete", []any{"status", "success", "user_email", "alice@example.com", "api_token_name", ""}, routed{idSecurity: {tokHere}}},
		{8, "mfa.verify.failed", []any{"status", "failed", "user_email", "alice@example.com"}, routed{idSecurity: {tokOncall}}},
		{9, "mfa_method.enroll", []any{"status", "success", "user_email", "alice@example.com"}, routed{}},
		{10, "api_token.create", []any{"status", "success", "user_email", "alice@example.com"}, routed{idSecurity: {tokHere}}},
		{11, "api_token.create", []any{"status", "error", "user_email", "bob@bots.example.com"}, routed{}},
		{12, "app.read", []any{"http_status", 500}, routed{idOps: {tokOps}}},
		{13, "app.read", []any{"http_status", 503, "region", "eu-west-1"}, routed{idOps: {tokOps, tokEU, tokHere}}},
		{14, "app.read", []any{"http_status", 200, "region", "eu-central-1"}, routed{idOps: {tokEU, tokHere}}},
		{15, "app.read", []any{"http_status", 200, "region", "us-east-1"}, routed{}},
		{16, "app.read", []any{"http_status", 429}, routed{idOps: {tokOps}}},
		{17, "app.read", []any{"http_status", "500"}, routed{idOps: {tokOps}}},
		{18, "app.read", []any{"http_status", 404}, routed{}},
		{19, "env.read", []any{"rbac_decision", "deny", "status", "denied"}, routed{idRBAC: nil}},
		{20, "env.read", []any{"rbac_decision", "allow", "status", "success"}, routed{}},
		{21, "login.start", []any{"status", "denied", "rbac_decision", "deny", "user_email", "alice@example.com"}, routed{idSecurity: {tokOncall, tokHere}, idRBAC: nil}},
		{22, "release.promote", []any{"resource", "prod-billing", "latency_ms", 12}, routed{idInfra: nil}},
		{23, "release.promote", []any{"resource", "prod-sandbox-1", "latency_ms", 12}, routed{}},
		{24, "release.promote", []any{"resource", "staging-billing", "latency_ms", 12}, routed{}},
		{25, "release.promote", []any{"resource", "prod-billing", "latency_ms", 0}, routed{}},
		{26, "release.promote", []any{"resource", "prod-billing", "latency_ms", rawJSON("0.0")}, routed{}},
		{27, "release.promote", []any{"resource", "prod-billing"}, routed{idInfra: nil}},
		{28, "deploy_approval_request.create", []any{"resource", "prod-api", "latency_ms", rawJSON("1e3")}, routed{idInfra: nil}},
		{29, "deploy_approval_request.approve", []any{"resource", "prod-api", "http_status", 502, "region", "eu-north-1"},
			routed{idInfra: nil, idOps: {tokOps, tokEU, tokHere}}},
		{30, "login.oauth_failed", []any{"status", "failed", "user_email", "eve@example.com", "user_name", evil, "user_agent", evil},
			routed{idSecurity: {tokOncall, tokHere}}},
		{31, "env.read", []any{"rbac_decision", "deny", "user_name", evil, "resource", evil, evil, evil}, routed{idRBAC: nil}},
		{32, "logout", []any{"status", "success", "user_email", "alice@example.com"}, routed{}},
		{33, "login.user_not_authorized", []any{"status", "failed", "user_email", "alice@example.com", "region", "eu-west-1"},
			routed{idSecurity: {tokOncall, tokHere}, idOps: {tokEU, tokHere}}},
		{34, "app.read", []any{"http_status", 500, "region", "eu-west-1", "rbac_decision", "deny"}, routed{idOps: {tokOps, tokEU, tokHere}, idRBAC: nil}},
		{35, "login.complete", []any{"status", "Failed", "user_email", "alice@example.com"}, routed{idSecurity: {tokHere}}},
		{36, "mfa.verify.failed", []any{"status", "error", "user_email", "ci@bots.example.com", "region", "us-west-2"}, routed{idSecurity: {tokOncall}}},
		{900, "login.zz_sentinel", []any{"status", "failed", "user_email", "ci@bots.example.com", "http_status", 500, "rbac_decision", "deny"},
			routed{idSecurity: {tokOncall}, idOps: {tokOps}, idRBAC: nil}},
		{901, "release.zz_sentinel", []any{"resource", "prod-zz"}, routed{idInfra: nil}},
	}
}

type whereCase struct {
	n      int
	action string
	kv     []any
	want   routed
}

// TestWhereAndMentionsRouteExactly appends the events one at a time, so
// that each message holds one event: its mentions are that event's.
func TestWhereAndMentionsRouteExactly(t *testing.T) {
	s := newSlack(t)
	s.AddChannel(idRBAC, "rbac", true)
	d := newDaemon(t, s, testenv.Options{Channels: whereRules})
	d.Start()
	want := map[string]map[int][]string{} // channel → marker → mention tokens
	for _, e := range whereEvents() {
		d.Append(whereEvent(e.n, e.action, e.kv...))
		for ch, toks := range e.want {
			if want[ch] == nil {
				want[ch] = map[int][]string{}
			}
			want[ch][e.n] = toks
			waitEvents(t, s, ch, e.n, e.n+1, 20*time.Second)
		}
	}
	for _, ch := range []string{idSecurity, idOps, idRBAC, idInfra, idDeploy} {
		c, _ := testenv.CountMarkers(texts(s, ch))
		if got, exp := sortedKeys(c), sortedKeys(want[ch]); !slices.Equal(got, exp) {
			t.Errorf("%s got events %v, want %v", ch, got, exp)
		}
		for n, k := range c {
			if k != 1 {
				t.Errorf("%s got event %d %d times", ch, n, k)
			}
		}
	}
	for _, p := range s.Posts() {
		markers, _ := testenv.CountMarkers([]string{p.AllText()})
		if len(markers) != 1 {
			t.Fatalf("a message with events %v; each should hold one", sortedKeys(markers))
		}
		checkMentions(t, p, markers, want[p.Channel])
	}
	// Metrics keep one label per queue: the first rule naming a Slack channel.
	for queue, ch := range map[string]string{"failures": idSecurity, "server-errors": idOps, "rbac": idRBAC, "prod": idInfra} {
		if got := d.MustMetric("auditfwd_events_routed_total", "channel="+queue); got != float64(len(want[ch])) {
			t.Errorf("routed{channel=%s} = %v, want %d", queue, got, len(want[ch]))
		}
	}
	for _, rule := range []string{"humans", "eu"} {
		if got, _ := d.Metric("auditfwd_events_routed_total", "channel="+rule); got != 0 {
			t.Errorf("routed{channel=%s} = %v: events are counted under their queue", rule, got)
		}
	}
}

// checkMentions checks that post p, holding the events markers, pings
// exactly the union of their mentions (want: marker → tokens), each once in
// the text, first, and once in the blocks.
func checkMentions(t *testing.T, p fakeslack.Post, markers testenv.Count, want map[int][]string) {
	t.Helper()
	var exp []string
	for _, n := range sortedKeys(markers) {
		for _, tok := range want[n] {
			if !slices.Contains(exp, tok) {
				exp = append(exp, tok)
			}
		}
	}
	text, blocks := pings(p)
	if !sameTokens(text, exp) || !sameTokens(blocks, exp) {
		t.Errorf("%s: message with events %v pings %q in the text and %q in the blocks, want %q once each",
			p.Channel, sortedKeys(markers), text, blocks, exp)
	}
	if first, _, _ := strings.Cut(p.Text, "\n"); len(exp) > 0 && strings.TrimSpace(slackMention.ReplaceAllString(first, "")) != "" {
		t.Errorf("%s: the text's first line is not the mention line: %q", p.Channel, first)
	}
}

// A backlog is posted as digests, each with the union of its events'
// mentions once.
func TestWhereDigestCarriesMentionsOnce(t *testing.T) {
	s := newSlack(t)
	s.AddChannel(idRBAC, "rbac", true)
	s.SetRateLimit(time.Second)
	d := newDaemon(t, s, testenv.Options{Channels: whereRules})
	want := map[string]map[int][]string{}
	var lines []string
	for _, e := range whereEvents() {
		lines = append(lines, whereEvent(e.n, e.action, e.kv...))
		for ch, toks := range e.want {
			if want[ch] == nil {
				want[ch] = map[int][]string{}
			}
			want[ch][e.n] = toks
		}
	}
	d.Append(lines...) // before start-up: each channel starts with a backlog
	d.Start()
	waitEvents(t, s, idSecurity, 900, 901, 60*time.Second)
	waitEvents(t, s, idOps, 900, 901, 60*time.Second)
	digests := 0
	for _, p := range s.Posts() {
		markers, _ := testenv.CountMarkers([]string{p.AllText()})
		checkMentions(t, p, markers, want[p.Channel])
		if text, _ := pings(p); len(markers) > 1 && len(text) > 0 {
			digests++
		}
	}
	if digests == 0 {
		t.Error("no digest carried mentions; the backlog was not digested")
	}
	for _, ch := range []string{idSecurity, idOps} {
		c, _ := testenv.CountMarkers(texts(s, ch))
		if got, exp := sortedKeys(c), sortedKeys(want[ch]); !slices.Equal(got, exp) {
			t.Errorf("%s got events %v, want %v", ch, got, exp)
		}
	}
}

// slackMention is what Slack turns into a notification.
var slackMention = regexp.MustCompile(`<(?:!subteam\^[^>|]+|@[A-Z0-9]+|!here|!channel|!everyone)(?:\|[^>]*)?>`)

// pings returns the mention tokens of a post's text and of its blocks.
func pings(p fakeslack.Post) (text, blocks []string) {
	return slackMention.FindAllString(p.Text, -1), slackMention.FindAllString(strings.TrimPrefix(p.AllText(), p.Text), -1)
}

// sameTokens reports whether got holds exactly the tokens of want, each once.
func sameTokens(got, want []string) bool {
	return len(got) == len(want) && !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) })
}

func sortedKeys[V any](m map[int]V) []int {
	return slices.Sorted(maps.Keys(m))
}

func TestWhereReloadAppliesLive(t *testing.T) {
	s := newSlack(t)
	cfg := func(extra string) string {
		return "  - name: ops\n    slack_channel: \"#ops\"\n    actions: [\"login.*\"]\n" + extra
	}
	d := newDaemon(t, s, testenv.Options{Channels: cfg("")})
	d.Start()
	d.Append(whereEvent(1, "login.complete", "status", "success"))
	waitEvents(t, s, idOps, 1, 2, 20*time.Second)

	// Add a where and a mention: only failures, and they ping.
	config, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	writeRename(t, d.ConfigPath, strings.Replace(string(config), cfg(""), cfg("    where:\n      status: [failed]\n    mention: [here]\n"), 1))
	testenv.Eventually(t, 15*time.Second, "the reload", func() bool {
		return strings.Contains(d.Output(), "its rules are in force")
	})
	d.Append(whereEvent(2, "login.complete", "status", "success"), whereEvent(3, "login.oauth_failed", "status", "failed"))
	waitEvents(t, s, idOps, 3, 4, 20*time.Second) // event 2 would have come first
	c, _ := testenv.CountMarkers(texts(s, idOps))
	if c[2] != 0 || c[1] != 1 || c[3] != 1 {
		t.Errorf("events in #ops: %v, want 1 and 3 once", c)
	}
	for _, p := range s.Posts() {
		markers, _ := testenv.CountMarkers([]string{p.AllText()})
		text, blocks := pings(p)
		want := []string(nil)
		if markers[3] > 0 {
			want = []string{tokHere}
		}
		if !sameTokens(text, want) || !sameTokens(blocks, want) {
			t.Errorf("message with %v pings %q / %q, want %q", sortedKeys(markers), text, blocks, want)
		}
	}
}
