package rules

import (
	"fmt"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
)

// whereRule is a channel with one where key.
func whereRule(name, slack string, actions []string, field string, globs ...string) config.Channel {
	return config.Channel{Name: name, SlackChannel: slack, Actions: actions,
		Where: []config.Condition{{Field: field, Globs: globs}}}
}

func names(ds []Destination) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Channel)
	}
	return out
}

func TestWhere(t *testing.T) {
	const failed = `{"action":"login.oauth_failed","status":"failed","user_email":"eve@example.com"}`
	tests := []struct {
		name  string
		field string
		globs []string
		line  string
		want  bool
	}{
		{"plain glob matches", "status", []string{"failed", "denied"}, failed, true},
		{"plain glob misses", "status", []string{"denied"}, failed, false},
		{"glob pattern", "user_email", []string{"*@example.com"}, failed, true},
		{"exclusion only, not excluded", "user_email", []string{"!*@bots.*"}, failed, true},
		{"exclusion only, excluded", "user_email", []string{"!*@bots.*"}, `{"action":"login.oauth_failed","user_email":"ci@bots.example.com"}`, false},
		{"plain and exclusion", "user_email", []string{"*@example.com", "!eve@*"}, failed, false},
		{"exclusion wins over plain", "status", []string{"*", "!failed"}, failed, false},
		{"missing field is the empty string", "api_token_name", []string{""}, failed, true},
		{"missing field misses a glob that needs text", "api_token_name", []string{"?*"}, failed, false},
		{"star matches the empty string, so an absent field too", "api_token_name", []string{"*"}, failed, true},
		{"missing field not excluded by a glob that needs text", "api_token_name", []string{"!ci-*"}, failed, true},
		{"present: exclude the empty string", "api_token_name", []string{"!"}, failed, false},
		{"present: exclude the empty string (present)", "api_token_name", []string{"!"}, `{"action":"x","api_token_name":"ci"}`, true},
		{"null is the empty string", "api_token_name", []string{""}, `{"action":"x","api_token_name":null}`, true},
		{"number as decimal text", "http_status", []string{"403"}, `{"action":"x","http_status":403}`, true},
		{"number glob", "http_status", []string{"4??"}, `{"action":"x","http_status":404}`, true},
		{"number shortest form", "latency_ms", []string{"1000000"}, `{"action":"x","latency_ms":1e6}`, true},
		{"fraction shortest form", "ratio", []string{"0.5"}, `{"action":"x","ratio":0.50}`, true},
		{"string number is text", "http_status", []string{"403"}, `{"action":"x","http_status":"403"}`, true},
		{"boolean", "mfa", []string{"true"}, `{"action":"x","mfa":true}`, true},
		{"object as compact JSON", "o", []string{`{"a":1}`}, `{"action":"x","o":{ "a" : 1 }}`, true},
		{"escaped string decoded", "user_name", []string{"<!here>*"}, `{"action":"x","user_name":"\u003c!here\u003e Eve"}`, true},
		{"literal ! with \\!", "resource", []string{`\!important`}, `{"action":"x","resource":"!important"}`, true},
		{"\\! is not an exclusion", "resource", []string{`\!important`}, `{"action":"x","resource":"other"}`, false},
		{"case-sensitive", "status", []string{"Failed"}, failed, false},
		{"whole value", "status", []string{"fail"}, failed, false},
		{"star does not cross a slash (path.Match)", "resource", []string{"billing*"}, `{"action":"x","resource":"billing/DATABASE_URL"}`, false},
		{"slash matched explicitly", "resource", []string{"billing/*"}, `{"action":"x","resource":"billing/DATABASE_URL"}`, true},
		{"where on action", "action", []string{"login.*"}, failed, true},
		{"unknown key, absent", "tenant", []string{"acme"}, failed, false},
		{"first occurrence of a key decides", "status", []string{"failed"}, `{"action":"x","status":"failed","status":"success"}`, true},
		{"nested key is not a top-level field", "status", []string{"failed"}, `{"action":"x","details":{"status":"failed"}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustCompile(t, []config.Channel{whereRule("w", "#w", []string{"*"}, tt.field, tt.globs...)}, config.DeployApprovalAlerts{})
			for i := range 2 { // the plan is computed, then cached
				if got := len(routeLine(r, tt.line)) == 1; got != tt.want {
					t.Errorf("#%d: routed = %v, want %v", i, got, tt.want)
				}
			}
		})
	}
}

func TestWhereIsAnd(t *testing.T) {
	r := mustCompile(t, []config.Channel{{Name: "w", SlackChannel: "#w", Actions: []string{"login.*"},
		Where: []config.Condition{{Field: "status", Globs: []string{"failed", "denied"}}, {Field: "user_email", Globs: []string{"!*@bots.*"}}}}}, config.DeployApprovalAlerts{})
	for line, want := range map[string]bool{
		`{"action":"login.oauth_failed","status":"failed","user_email":"a@example.com"}`:  true,
		`{"action":"login.oauth_failed","status":"success","user_email":"a@example.com"}`: false,
		`{"action":"login.oauth_failed","status":"denied","user_email":"x@bots.example"}`: false,
		`{"action":"logout","status":"failed","user_email":"a@example.com"}`:              false,
	} {
		if got := len(routeLine(r, line)) == 1; got != want {
			t.Errorf("%s: routed %v, want %v", line, got, want)
		}
	}
}

func TestMentionsAndSharedChannels(t *testing.T) {
	r := mustCompile(t, []config.Channel{
		{Name: "security", SlackChannel: "#security", Actions: []string{"login.*"}, Mention: []string{"U1"}},
		{Name: "security-oncall", SlackChannel: "security", Actions: []string{"login.*"}, Mention: []string{"S1", "U1", "here"},
			Where: []config.Condition{{Field: "status", Globs: []string{"failed"}}}},
		{Name: "audit", SlackChannel: "#audit", Actions: []string{"*"}},
		{Name: "deploys", SlackChannel: "#deploys", Actions: []string{"deploy_*"}, Mention: []string{"W2"}},
	}, config.DeployApprovalAlerts{Enabled: true, SlackChannel: "deploys", Actions: []string{"deploy_approval_request.create"}, Mention: []string{"channel", "W2"}})
	sec := func(m ...string) Destination {
		return Destination{Channel: "security", SlackChannel: "#security", Mention: m}
	}
	audit := dest("audit", "#audit")
	for _, tt := range []struct {
		line    string
		want    []Destination
		matched []string
	}{
		{`{"action":"login.complete","status":"success"}`, []Destination{sec("U1"), audit}, []string{"security", "audit"}},
		{`{"action":"login.oauth_failed","status":"failed"}`, []Destination{sec("U1", "S1", "here"), audit}, []string{"security", "security-oncall", "audit"}},
		{`{"action":"deploy_approval_request.create"}`, []Destination{audit, {Channel: "deploys", SlackChannel: "#deploys", Alert: true, Mention: []string{"W2", "channel"}}},
			[]string{"audit", "deploys", "deploy_approval_alerts"}},
		{`{"action":"app.read"}`, []Destination{audit}, []string{"audit"}},
	} {
		for range 2 {
			if got := routeLine(r, tt.line); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s:\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		}
		var f event.Fields
		_, a := event.ClassifyFields([]byte(tt.line), &f)
		if got := r.Match(a, &f); !slices.Equal(got, tt.matched) {
			t.Errorf("%s: Match = %q, want %q", tt.line, got, tt.matched)
		}
	}
}

// More rules with a where for one action than a plan tabulates: computed per event.
func TestManyConditionalRules(t *testing.T) {
	var chs []config.Channel
	for i := range maxTabulated + 3 {
		chs = append(chs, whereRule(fmt.Sprintf("r%d", i), fmt.Sprintf("#c%d", i), []string{"*"}, "n", fmt.Sprint(i), "x"))
	}
	r := mustCompile(t, chs, config.DeployApprovalAlerts{})
	for i := range maxTabulated + 3 {
		if got := names(routeLine(r, fmt.Sprintf(`{"action":"a","n":%d}`, i))); !slices.Equal(got, []string{fmt.Sprintf("r%d", i)}) {
			t.Errorf("n=%d: %v", i, got)
		}
	}
	if got := routeLine(r, `{"action":"a","n":"x"}`); len(got) != maxTabulated+3 {
		t.Errorf("n=x: %d destinations", len(got))
	}
}

// The compiled globs answer as path.Match does.
func TestGlobAgreesWithPathMatch(t *testing.T) {
	patterns := []string{"", "*", "**", "a", "abc", "a*", "*a", "*a*", "*@bots.*", "billing*", "*/x", "a/*", "*a/b*", `\!x`, `\*`, `a\*`, `\**`,
		`*\*`, "a?c", "[ab]*", "*.*", "*ab*", "a*b", `a\\*`, "!", "x*y*z"}
	values := []string{"", "a", "abc", "ab", "ba", "a/b", "x/a/b", "ci@bots.example.com", "billing", "billing/KEY", "!x", "*", "a*", "a\\", "a\\b",
		"*x", "abab", "a.b", "xyz", "x/y/z", "/"}
	for _, p := range patterns {
		if checkPattern(p) != nil {
			continue
		}
		g := compileGlob(p)
		for _, v := range values {
			want, _ := path.Match(p, v)
			if got := g.match(v); got != want {
				t.Errorf("glob %q (kind %d) on %q = %v, path.Match says %v", p, g.kind, v, got, want)
			}
		}
	}
}

func TestWhereDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := whereBenchRules(t)
	lines := whereBenchLines()
	var f event.Fields
	for _, l := range lines {
		_, a := event.ClassifyFields(l, &f)
		r.RouteEvent(a, &f)
	}
	n := testing.AllocsPerRun(200, func() {
		for _, l := range lines {
			_, a := event.ClassifyFields(l, &f)
			r.RouteEvent(a, &f)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run", n)
	}
}

func whereBenchRules(tb testing.TB) *Rules {
	cfg, err := config.Parse([]byte(`channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*", "mfa*", "api_token.*"]
  - name: security-failures
    slack_channel: "#security"
    actions: ["login.*", "mfa*", user.update]
    where:
      status: [failed, denied, error]
      user_email: ["!*@bots.*"]
    mention: [S0123ABCD, here]
  - name: denied
    slack_channel: "#rbac"
    actions: ["*"]
    where:
      rbac_decision: [deny]
`), "bench.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	r, err := Compile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func whereBenchLines() [][]byte {
	var out [][]byte
	for _, l := range []string{
		`{"action":"login.oauth_failed","action_type":"auth","ip_address":"198.51.100.23","status":"failed","ts":"2026-03-20T01:13:02Z","user_agent":"curl/8.5.0","user_email":"mallory@example.net"}`,
		`{"action":"login.complete","action_type":"auth","ip_address":"203.0.113.7","status":"success","ts":"2026-03-20T01:12:44Z","user_email":"alice@example.com","user_name":"Alice Example"}`,
		`{"action":"app.read","action_type":"convox","command":"convox apps info","http_status":200,"latency_ms":38,"rbac_decision":"allow","resource":"billing","resource_type":"app","status":"success","ts":"2026-03-20T01:12:46Z","user_email":"alice@example.com","user_name":"Alice Example"}`,
		`{"action":"env.read","action_type":"convox","resource":"billing/DATABASE_URL","resource_type":"env","status":"denied","rbac_decision":"deny","ts":"2026-03-20T01:20:03Z","user_email":"bob@example.com","user_name":"Bob Builder"}`,
		`{"action":"user.update","action_type":"users","ip_address":"198.51.100.23","resource":"bench-c-0000000","resource_type":"user","status":"success","ts":"2026-03-20T00:00:07Z","user_agent":"convox/3.19.4 (darwin; arm64) go1.23.4 rack-gateway-cli","user_email":"grace.hopper@example.com","user_name":"Grace Hopper"}`,
	} {
		out = append(out, []byte(l))
	}
	return out
}

// BenchmarkRouteWhere is routing's cost for events that rules with a where
// match, after ClassifyFields indexed the line (which the pipeline does for
// every line anyway): "where" evaluates the conditions, "no-where" is the
// same routing table without them.
func BenchmarkRouteWhere(b *testing.B) {
	lines := whereBenchLines()
	for _, c := range []struct {
		name string
		r    *Rules
	}{{"where", whereBenchRules(b)}, {"no-where", noWhere(b, whereBenchRules(b))}} {
		b.Run(c.name, func(b *testing.B) {
			fs := make([]event.Fields, len(lines))
			actions := make([][]byte, len(lines))
			for i, l := range lines {
				_, actions[i] = event.ClassifyFields(l, &fs[i])
				c.r.RouteEvent(actions[i], &fs[i])
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := i % len(lines)
				c.r.RouteEvent(actions[k], &fs[k])
			}
		})
	}
}

// noWhere is r without its where conditions.
func noWhere(tb testing.TB, r *Rules) *Rules {
	var chs []config.Channel
	for _, ru := range r.rules {
		chs = append(chs, config.Channel{Name: ru.name, SlackChannel: ru.slack, Actions: ru.patterns, Mention: ru.mention})
	}
	return mustCompile(tb, chs, config.DeployApprovalAlerts{})
}

func TestExplain(t *testing.T) {
	r := whereBenchRules(t)
	var f event.Fields
	_, a := event.ClassifyFields([]byte(`{"action":"login.oauth_failed","status":"failed","user_email":"ci@bots.example.com"}`), &f)
	var got []string
	for _, v := range r.Explain(a, &f) {
		got = append(got, v.String())
	}
	want := []string{
		`security: matched: action matches "login.*" → #security`,
		`security-failures: not matched: where user_email "ci@bots.example.com" is excluded by "!*@bots.*"`,
		`denied: not matched: where rbac_decision (absent) matches none of ["deny"]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Explain:\n got %q\nwant %q", got, want)
	}
	_, a = event.ClassifyFields([]byte(`{"action":"login.oauth_failed","status":"failed","user_email":"eve@example.com"}`), &f)
	v := r.Explain(a, &f)[1]
	if w := `security-failures: matched: action matches "login.*"; status "failed" matches "failed"; user_email "eve@example.com" is excluded by none of ["!*@bots.*"] → #security (queue security), mention S0123ABCD here`; v.String() != w {
		t.Errorf("Explain:\n got %s\nwant %s", v, w)
	}
	_, a = event.ClassifyFields([]byte(`{"action":"app.read"}`), &f)
	if v := r.Explain(a, &f)[0]; v.String() != `security: not matched: action "app.read" matches none of ["login.*" "mfa*" "api_token.*"]` {
		t.Errorf("Explain: %s", v)
	}
}

func TestDiffWithWhere(t *testing.T) {
	old := whereBenchRules(t)
	cfg, err := config.Parse([]byte(`channels:
  - name: security
    slack_channel: "#security"
    actions: ["login.*", "mfa*", "api_token.*"]
  - name: security-failures
    slack_channel: "#security"
    actions: ["login.*", "mfa*", user.update]
    where:
      status: [failed, denied]
      user_email: ["!*@bots.*"]
    mention: [S0123ABCD]
  - name: denied
    slack_channel: "#rbac"
    actions: ["*"]
    where:
      rbac_decision: [deny]
`), "new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cur := mustCompile(t, cfg.Channels, cfg.DeployApprovalAlerts)
	var got []string
	for _, c := range Diff(old, cur, nil) {
		if c.Action == "login.complete" || c.Action == "user.update" {
			got = append(got, c.Action+": "+strings.Join(c.Old, " ")+" -> "+strings.Join(c.New, " "))
		}
	}
	want := []string{
		`login.complete: security security-failures if status: [failed, denied, error]; user_email: [!*@bots.*] denied if rbac_decision: [deny] -> security security-failures if status: [failed, denied]; user_email: [!*@bots.*] denied if rbac_decision: [deny]`,
		`user.update: security-failures if status: [failed, denied, error]; user_email: [!*@bots.*] denied if rbac_decision: [deny] -> security-failures if status: [failed, denied]; user_email: [!*@bots.*] denied if rbac_decision: [deny]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Diff:\n got %q\nwant %q", got, want)
	}
}

func TestReplay(t *testing.T) {
	old := mustCompile(t, []config.Channel{ch("security", "#security", "login.*"), ch("gone", "#gone", "app.*")}, config.DeployApprovalAlerts{})
	cur := mustCompile(t, []config.Channel{
		whereRule("security", "#security", []string{"login.*"}, "status", "!success"),
		{Name: "oncall", SlackChannel: "#security", Actions: []string{"login.oauth_failed"}, Mention: []string{"S1"}},
	}, config.DeployApprovalAlerts{Enabled: true, SlackChannel: "#d", Actions: []string{"deploy_*"}})
	rp := NewReplay(old, cur, 2)
	var f event.Fields
	for i, l := range []string{
		`{"action":"login.complete","status":"success"}`,
		`{"action":"login.oauth_failed","status":"failed"}`,
		`{"action":"login.complete","status":"failed"}`,
		`{"action":"app.read"}`,
		`{"action":"deploy_approval_request.create"}`,
	} {
		_, a := event.ClassifyFields([]byte(l), &f)
		rp.Add(fmt.Sprintf("log:%d", i+1), a, &f)
	}
	wantCounts := []ChannelCount{{"security", 3, 2}, {"oncall", 0, 1}, {"gone", 1, 0}, {config.AlertsChannelName, 0, 1}}
	if got := rp.Counts(); !reflect.DeepEqual(got, wantCounts) {
		t.Errorf("Counts = %+v, want %+v", got, wantCounts)
	}
	if rp.Events != 5 || rp.Changed != 4 || len(rp.Changes) != 2 {
		t.Fatalf("events %d, changed %d, listed %d", rp.Events, rp.Changed, len(rp.Changes))
	}
	wantChanges := []Change{
		{Action: "login.complete", Where: "log:1", Old: []string{"security"}, New: nil},
		{Action: "login.oauth_failed", Where: "log:2", Old: []string{"security"}, New: []string{"security", "oncall"}},
	}
	if !reflect.DeepEqual(rp.Changes, wantChanges) {
		t.Errorf("Changes:\n got %+v\nwant %+v", rp.Changes, wantChanges)
	}
}

func TestFieldCatalog(t *testing.T) {
	for _, f := range []string{"ts", "timestamp", "action", "status", "user_email", "user_name", "api_token_name", "api_token_id",
		"resource", "resource_type", "command", "rbac_decision", "http_status", "latency_ms", "ip_address", "user_agent", "event_count", "details"} {
		if _, ok := fieldCatalog[f]; !ok {
			t.Errorf("catalog lacks %q", f)
		}
	}
	for f, want := range map[string][]string{
		"status":        {"success", "failed", "denied", "error", "alert"},
		"action_type":   {"auth", "convox", "gateway", "security", "users", "tokens", "admin"},
		"rbac_decision": {"allow", "deny"},
		"user_email":    nil,
	} {
		if got := fieldCatalog[f]; !slices.Equal(got, want) {
			t.Errorf("%s values %q, want %q", f, got, want)
		}
	}
	for _, v := range []string{"app", "env", "release", "user", "api_token", "deploy_approval_request"} {
		if !slices.Contains(fieldCatalog["resource_type"], v) {
			t.Errorf("resource_type lacks %q", v)
		}
	}
	if closestField("usr_email") != "user_email" || closestField("tenant") != "" {
		t.Error("closestField")
	}
}
