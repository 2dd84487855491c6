package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
)

func ch(name, slack string, actions ...string) config.Channel {
	return config.Channel{Name: name, SlackChannel: slack, Actions: actions}
}

func alertsOn(slack string, actions ...string) config.DeployApprovalAlerts {
	return config.DeployApprovalAlerts{Enabled: true, SlackChannel: slack, Actions: actions}
}

func mustCompile(t testing.TB, chs []config.Channel, a config.DeployApprovalAlerts) *Rules {
	t.Helper()
	r, err := Compile(&config.Config{Channels: chs, DeployApprovalAlerts: a})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return r
}

func defaultRules(t testing.TB, alertsEnabled bool) *Rules {
	t.Helper()
	cfg, err := config.Parse(nil, "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DeployApprovalAlerts.Enabled = alertsEnabled
	return mustCompile(t, cfg.Channels, cfg.DeployApprovalAlerts)
}

// Route is RouteEvent for an event that has only an action: where
// conditions see every other field as absent.
func (r *Rules) Route(action string) []Destination {
	q, _ := json.Marshal(action)
	var f event.Fields
	_, a := event.ClassifyFields(fmt.Appendf(nil, `{"action":%s}`, q), &f)
	return r.RouteEvent(a, &f)
}

// routeLine routes one JSON line.
func routeLine(r *Rules, line string) []Destination {
	var f event.Fields
	kind, action := event.ClassifyFields([]byte(line), &f)
	if kind != event.KindEvent {
		panic("not an event: " + line)
	}
	return r.RouteEvent(action, &f)
}

func dest(channel, slack string) Destination {
	return Destination{Channel: channel, SlackChannel: slack}
}

func alert(slack string) Destination {
	return Destination{Channel: config.AlertsChannelName, SlackChannel: slack, Alert: true}
}

func TestRoute(t *testing.T) {
	sec := dest("security", "#security")
	infra := dest("infrastructure", "#infrastructure")
	tests := []struct {
		name     string
		channels []config.Channel
		alerts   config.DeployApprovalAlerts
		action   string
		want     []Destination
	}{
		// the built-in defaults (docs/configuration.md).
		{"default literal", nil, config.DeployApprovalAlerts{}, "login.complete", []Destination{sec}},
		{"default star", nil, config.DeployApprovalAlerts{}, "login.oauth_failed", []Destination{sec}},
		{"default release", nil, config.DeployApprovalAlerts{}, "release.promote", []Destination{infra}},
		{"default unrouted", nil, config.DeployApprovalAlerts{}, "app.list", nil},
		{"default alerts disabled", nil, config.DeployApprovalAlerts{}, "deploy_approval_request.create", []Destination{infra}},
		{"default alerts enabled", nil, alertsOn("#deploy-approvals", "deploy_approval_request.create", "deploy_approval_request.created"),
			"deploy_approval_request.create", []Destination{infra, alert("#deploy-approvals")}},
		{"alert pattern not matching", nil, alertsOn("#deploy-approvals", "deploy_approval_request.create"),
			"deploy_approval_request.approve", []Destination{infra}},
		{"alert alone", []config.Channel{}, alertsOn("#deploy-approvals", "deploy_approval_request.create"),
			"deploy_approval_request.create", []Destination{alert("#deploy-approvals")}},

		// path.Match semantics.
		{"star crosses dots", []config.Channel{ch("u", "#u", "user.*")}, config.DeployApprovalAlerts{}, "user.sessions.revoke_all", []Destination{dest("u", "#u")}},
		{"star alone", []config.Channel{ch("all", "#all", "*")}, config.DeployApprovalAlerts{}, "logout", []Destination{dest("all", "#all")}},
		{"star needs whole match", []config.Channel{ch("u", "#u", "user.*")}, config.DeployApprovalAlerts{}, "api_user.create", nil},
		{"pattern is anchored", []config.Channel{ch("u", "#u", "user.update")}, config.DeployApprovalAlerts{}, "user.update_name", nil},
		{"question mark one char", []config.Channel{ch("q", "#q", "env.?et")}, config.DeployApprovalAlerts{}, "env.set", []Destination{dest("q", "#q")}},
		{"question mark not two", []config.Channel{ch("q", "#q", "env.?et")}, config.DeployApprovalAlerts{}, "env.unset", nil},
		{"class", []config.Channel{ch("c", "#c", "app.[cd]*")}, config.DeployApprovalAlerts{}, "app.delete", []Destination{dest("c", "#c")}},
		{"class miss", []config.Channel{ch("c", "#c", "app.[cd]*")}, config.DeployApprovalAlerts{}, "app.restart", nil},
		{"negated class", []config.Channel{ch("c", "#c", "app.[^r]*")}, config.DeployApprovalAlerts{}, "app.restart", nil},
		{"range", []config.Channel{ch("c", "#c", "[a-c]*.list")}, config.DeployApprovalAlerts{}, "build.list", []Destination{dest("c", "#c")}},
		{"case sensitive", []config.Channel{ch("c", "#c", "login.*")}, config.DeployApprovalAlerts{}, "Login.complete", nil},
		{"case sensitive literal", []config.Channel{ch("c", "#c", "Logout")}, config.DeployApprovalAlerts{}, "logout", nil},
		{"escaped star is literal", []config.Channel{ch("c", "#c", `odd.\*`)}, config.DeployApprovalAlerts{}, "odd.*", []Destination{dest("c", "#c")}},
		{"escaped star not a wildcard", []config.Channel{ch("c", "#c", `odd.\*`)}, config.DeployApprovalAlerts{}, "odd.x", nil},

		// Fan-out and de-duplication.
		{"fan out in config order", []config.Channel{ch("b", "#b", "login.*"), ch("a", "#a", "*.complete")}, config.DeployApprovalAlerts{},
			"login.complete", []Destination{dest("b", "#b"), dest("a", "#a")}},
		{"same slack channel once, first rule wins", []config.Channel{ch("a", "#sec", "login.*"), ch("b", "#sec", "login.complete")}, config.DeployApprovalAlerts{},
			"login.complete", []Destination{dest("a", "#sec")}},
		{"# and no # are one channel", []config.Channel{ch("a", "#sec", "login.*"), ch("b", " sec ", "login.*"), ch("c", "#other", "*")}, config.DeployApprovalAlerts{},
			"login.start", []Destination{dest("a", "#sec"), dest("c", "#other")}},
		{"IDs compared as given", []config.Channel{ch("a", "C0123ABCD", "*"), ch("b", "C0123ABCD", "*"), ch("c", "C0999", "*")}, config.DeployApprovalAlerts{},
			"logout", []Destination{dest("a", "C0123ABCD"), dest("c", "C0999")}},
		{"alert merges with a rule naming its channel", []config.Channel{ch("a", "#a", "*"), ch("dep", "deploys", "deploy_*"), ch("z", "#z", "*")},
			alertsOn("#deploys", "deploy_approval_request.create"),
			"deploy_approval_request.create", []Destination{dest("a", "#a"), {Channel: "dep", SlackChannel: "deploys", Alert: true}, dest("z", "#z")}},
		{"merged alert absorbs every rule with that channel", []config.Channel{ch("x", "#d", "deploy_*"), ch("y", "d", "*.create")},
			alertsOn("#d", "deploy_approval_request.create"),
			"deploy_approval_request.create", []Destination{{Channel: "x", SlackChannel: "#d", Alert: true}}},
		{"rules sharing a Slack channel share the first one's name (one queue, log order)", []config.Channel{ch("logins", "#s", "login.*"), ch("all", "s", "*")},
			config.DeployApprovalAlerts{},
			"release.promote", []Destination{dest("logins", "#s")}},
		{"rule for alert channel without alert match", []config.Channel{ch("dep", "#deploys", "deploy_*")},
			alertsOn("#deploys", "deploy_approval_request.create"),
			"deploy_approval_request.approve", []Destination{dest("dep", "#deploys")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chs := tt.channels
			if chs == nil {
				cfg, _ := config.Parse(nil, "")
				chs = cfg.Channels
			}
			r := mustCompile(t, chs, tt.alerts)
			for i := range 2 { // computed, then cached
				if got := r.Route(tt.action); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Route(%q) #%d = %+v, want %+v", tt.action, i, got, tt.want)
				}
				if got := routeLine(r, `{"action":"`+tt.action+`","status":"success"}`); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("RouteEvent(%q) #%d = %+v, want %+v", tt.action, i, got, tt.want)
				}
			}
		})
	}
}

func TestRouteResultIsNotShared(t *testing.T) {
	r := mustCompile(t, []config.Channel{ch("a", "#a", "*")}, config.DeployApprovalAlerts{})
	got := r.Route("logout")
	_ = append(got, dest("x", "#x")) // a careless caller
	if again := r.Route("logout"); len(again) != 1 {
		t.Fatalf("append by a caller changed the cached route: %+v", again)
	}
}

func TestNames(t *testing.T) {
	if got, want := defaultRules(t, false).names(), []string{"security", "infrastructure"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names() = %v, want %v", got, want)
	}
	if got, want := defaultRules(t, true).names(), []string{"security", "infrastructure", "deploy_approval_alerts"}; !reflect.DeepEqual(got, want) {
		t.Errorf("names() = %v, want %v", got, want)
	}
	r := mustCompile(t, []config.Channel{}, config.DeployApprovalAlerts{})
	if got := r.names(); len(got) != 0 {
		t.Errorf("names() for no channels = %v", got)
	}
	if got := r.Route("logout"); got != nil {
		t.Errorf("channels: [] routed logout to %v", got)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name     string
		channels []config.Channel
		alerts   config.DeployApprovalAlerts
		want     string
	}{
		{"malformed", []config.Channel{ch("a", "#a", "logout", "login.[")}, config.DeployApprovalAlerts{}, `channel "a": malformed pattern "login.["`},
		{"empty pattern", []config.Channel{ch("a", "#a", "")}, config.DeployApprovalAlerts{}, `channel "a": empty action pattern`},
		{"no patterns", []config.Channel{ch("a", "#a")}, config.DeployApprovalAlerts{}, `channel "a" has no actions key`},
		{"no slack channel", []config.Channel{ch("a", " ", "*")}, config.DeployApprovalAlerts{}, `channel "a" has no slack_channel`},
		{"duplicate", []config.Channel{ch("a", "#a", "*"), ch("a", "#b", "*")}, config.DeployApprovalAlerts{}, `duplicate channel name "a"`},
		{"reserved", []config.Channel{ch("deploy_approval_alerts", "#a", "*")}, config.DeployApprovalAlerts{}, `reserved`},
		{"no name", []config.Channel{ch("", "#a", "*")}, config.DeployApprovalAlerts{}, `no name`},
		{"bad alert pattern", nil, alertsOn("#d", "[z-a"), `deploy_approval_alerts: malformed pattern`},
		{"alert without actions", nil, alertsOn("#d"), `deploy_approval_alerts is enabled but has no actions`},
		{"malformed where glob", []config.Channel{{Name: "a", SlackChannel: "#a", Actions: []string{"*"},
			Where: []config.Condition{{Field: "status", Globs: []string{"!["}}}}}, config.DeployApprovalAlerts{}, `channel "a": where.status: malformed pattern "["`},
		{"bad mention", []config.Channel{{Name: "a", SlackChannel: "#a", Actions: []string{"*"}, Mention: []string{"@here"}}},
			config.DeployApprovalAlerts{}, `channel "a": mention "@here"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Compile(&config.Config{Channels: tt.channels, DeployApprovalAlerts: tt.alerts})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Compile = %v, %v; want error containing %q", r, err, tt.want)
			}
		})
	}
	// A disabled alert section is checked as in a config file, not compiled.
	if _, err := Compile(&config.Config{DeployApprovalAlerts: config.DeployApprovalAlerts{Actions: []string{"["}}}); err == nil {
		t.Error("disabled alerts with a malformed pattern compiled")
	}
	r := mustCompile(t, nil, config.DeployApprovalAlerts{SlackChannel: "#d", Actions: []string{"*"}})
	if got := r.Route("deploy_approval_request.create"); got != nil {
		t.Errorf("disabled alerts route: %v", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	r := mustCompile(t, []config.Channel{ch("a", "#a", "x.*")}, config.DeployApprovalAlerts{})
	for i := range maxCache + 500 {
		action := fmt.Sprintf("x.%d", i)
		if got := r.Route(action); len(got) != 1 || got[0].Channel != "a" {
			t.Fatalf("Route(%q) = %v", action, got)
		}
	}
	r.mu.RLock()
	n := len(r.cache)
	r.mu.RUnlock()
	if n > maxCache {
		t.Errorf("cache grew to %d entries, bound is %d", n, maxCache)
	}
	if got := r.Route("y.1"); got != nil { // beyond the bound: computed, still right
		t.Errorf("Route(y.1) = %v", got)
	}
}

func TestRouteEventDoesNotAllocateWhenCached(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := defaultRules(t, true)
	lines := [][]byte{[]byte(`{"action":"login.complete"}`), []byte(`{"action":"deploy_approval_request.create"}`), []byte(`{"action":"app.list"}`)}
	var f event.Fields
	for _, l := range lines {
		_, a := event.ClassifyFields(l, &f)
		r.RouteEvent(a, &f)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, l := range lines {
			_, a := event.ClassifyFields(l, &f)
			r.RouteEvent(a, &f)
		}
	})
	if allocs != 0 {
		t.Errorf("RouteEvent allocated %v times per run for cached actions", allocs)
	}
}

func TestConcurrentRoute(t *testing.T) {
	r := defaultRules(t, true)
	cat := Catalog()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			var f event.Fields
			for i := range 2000 {
				a := cat[(g*7+i)%len(cat)]
				_, action := event.ClassifyFields([]byte(`{"action":"`+a+`"}`), &f)
				got := r.RouteEvent(action, &f)
				if want := r.newPlan(a).static; !reflect.DeepEqual(got, want) {
					t.Errorf("RouteEvent(%q) = %v, want %v", a, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkRouteEvent(b *testing.B) {
	r := defaultRules(b, true)
	var fs [4]event.Fields
	var actions [4][]byte
	for i, l := range []string{
		`{"action":"login.complete"}`,
		`{"action":"deploy_approval_request.create"}`,
		`{"action":"app.list"}`,
		`{"action":"api_token.delete"}`,
	} {
		_, actions[i] = event.ClassifyFields([]byte(l), &fs[i])
		r.RouteEvent(actions[i], &fs[i])
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.RouteEvent(actions[i%4], &fs[i%4])
	}
}

func BenchmarkRouteEventUncached(b *testing.B) {
	r := defaultRules(b, true)
	b.ReportAllocs()
	for b.Loop() {
		r.newPlan("deploy_approval_request.create")
	}
}

// Rules built by hand go through the same checks as every file, without
// lines: what config checks of the channels, then how they match.
func TestCompileChecksRulesBuiltByHand(t *testing.T) {
	_, err := Compile(&config.Config{Channels: []config.Channel{
		{Name: "a", SlackChannel: "#a", Actions: []string{"x.["}},
		{Name: "a", SlackChannel: " ", Actions: []string{}, Where: []config.Condition{{Field: "status"}}, Mention: []string{"@here"}},
	}, DeployApprovalAlerts: config.DeployApprovalAlerts{Enabled: true, SlackChannel: "#d", Mention: []string{"oncall"}}})
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`duplicate channel name "a"`,
		`channel "a" has no slack_channel (a name like "#security", quoted because of the #, or an ID like C0123ABCD)`,
		`channel "a" has no actions; remove the channel or add patterns`,
		`deploy_approval_alerts is enabled but has no actions`,
		`channel "a": malformed pattern "x.[" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`,
		`channel "a": where.status is an empty list: write [""] to match an absent field, or remove the key`,
		`channel "a": mention "@here" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "here"?`,
		`deploy_approval_alerts: mention "oncall" is not a user group ID (S…), a user ID (U… or W…), here or channel`,
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
}

// Every problem in a file is named with its file and line, in file order:
// how a rule matches as well as what config checks.
func TestCompileNamesFileAndLine(t *testing.T) {
	cfg, err := config.Parse([]byte(`channels:
  - name: security
    slack_channel: "#security"
    actions:
      - login.complete
      - "login.["
    where:
      status: ["[a-"]
    mention: ["<!here>"]
deploy_approval_alerts:
  actions: [" x"]
`), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(cfg)
	want := []string{
		`c.yaml:6: channel "security": malformed pattern "login.[" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`,
		`c.yaml:8: channel "security": where.status: malformed pattern "[a-" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`,
		`c.yaml:9: channel "security": mention "<!here>" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "here"?`,
		`c.yaml:11: deploy_approval_alerts: pattern " x" has leading or trailing spaces and would never match`,
	}
	if err == nil {
		t.Fatal("compiled")
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	defaultRules(t, true) // the built-in rules compile
}

// How rules match is checked where they are compiled, every problem named
// with its file and line.
func TestMatchingErrorsNameFileAndLine(t *testing.T) {
	head := "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [logout]\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"malformed pattern", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions:\n      - logout\n      - login.[\n",
			[]string{`c.yaml:6: channel "sec": malformed pattern "login.[" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"malformed alert pattern even when disabled", "deploy_approval_alerts:\n  actions: ['deploy\\']\n",
			[]string{`c.yaml:2: deploy_approval_alerts: malformed pattern "deploy\\" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"empty pattern", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [logout, \"\"]\n",
			[]string{`c.yaml:4: channel "sec": empty action pattern`}},
		{"pattern with spaces", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [\" logout\"]\n",
			[]string{`c.yaml:4: channel "sec": pattern " logout" has leading or trailing spaces and would never match`}},
		{"malformed glob", head + "    where:\n      status: [failed, \"[fail\"]\n",
			[]string{`c.yaml:6: channel "sec": where.status: malformed pattern "[fail" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"malformed exclusion", head + "    where:\n      user_email:\n        - \"!*@bots.[\"\n",
			[]string{`c.yaml:7: channel "sec": where.user_email: malformed pattern "*@bots.[" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"empty list", head + "    where:\n      status: []\n",
			[]string{`c.yaml:6: channel "sec": where.status is an empty list: write [""] to match an absent field, or remove the key`}},
		{"null list", head + "    where:\n      status:\n",
			[]string{`c.yaml:6: channel "sec": where.status is an empty list: write [""] to match an absent field, or remove the key`}},
		{"bad mentions", head + "    mention: [\"@here\", \"<!subteam^S0123ABCD>\", \"<@U1234>\", s0123abcd, everyone, \"#security\", B0123]\n",
			[]string{
				`c.yaml:5: channel "sec": mention "@here" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "here"?`,
				`c.yaml:5: channel "sec": mention "<!subteam^S0123ABCD>" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "S0123ABCD"?`,
				`c.yaml:5: channel "sec": mention "<@U1234>" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "U1234"?`,
				`c.yaml:5: channel "sec": mention "s0123abcd" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "S0123ABCD"?`,
				`c.yaml:5: channel "sec": mention "everyone" is not a user group ID (S…), a user ID (U… or W…), here or channel; did you mean "channel"?`,
				`c.yaml:5: channel "sec": mention "#security" is not a user group ID (S…), a user ID (U… or W…), here or channel`,
				`c.yaml:5: channel "sec": mention "B0123" is not a user group ID (S…), a user ID (U… or W…), here or channel`,
			}},
		{"alerts where and mention, even when disabled", "deploy_approval_alerts:\n  where:\n    status: []\n  mention: [oncall]\n",
			[]string{`c.yaml:3: deploy_approval_alerts: where.status is an empty list: write [""] to match an absent field, or remove the key`,
				`c.yaml:4: deploy_approval_alerts: mention "oncall" is not a user group ID (S…), a user ID (U… or W…), here or channel`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte(tt.src), "c.yaml")
			if err != nil {
				t.Fatalf("config.Parse: %v", err)
			}
			_, err = Compile(cfg)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}
