package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// liveRule and liveAlerts are the live sections the edits below start from.
const (
	liveRule = `  - name: sec
    slack_channel: "#security"
    actions: ["login.*"]
`
	liveAlerts = `deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy"
  actions: [deploy_approval_request.create]
`
)

// liveEdit changes one key of a live section: before and after are the
// channels item and the deploy_approval_alerts block; probe is an audit
// line whose routing shows the change once the reload applied it.
type liveEdit struct {
	rule, alerts [2]string // before, after
	probe        string
}

// same is an unchanged section.
func same(s string) [2]string { return [2]string{s, s} }

// liveEdits has one edit per key of every live section. A key added to a
// live section (a channel's template, say) fails TestEveryConfigKeyIsLiveOrNeedsRestart
// until it has an edit here whose effect the compiled rules show.
var liveEdits = map[string]liveEdit{
	"channels.name": {
		rule: [2]string{liveRule, strings.Replace(liveRule, "name: sec", "name: sec2", 1)}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete"}`,
	},
	"channels.slack_channel": {
		rule: [2]string{liveRule, strings.Replace(liveRule, `"#security"`, `"#sec2"`, 1)}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete"}`,
	},
	"channels.actions": {
		rule: [2]string{liveRule, strings.Replace(liveRule, `["login.*"]`, `["login.*", logout]`, 1)}, alerts: same(liveAlerts),
		probe: `{"action":"logout"}`,
	},
	"channels.where": {
		rule: [2]string{liveRule, liveRule + "    where: {status: [failed]}\n"}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete","status":"success"}`,
	},
	"channels.mention": {
		rule: [2]string{liveRule, liveRule + "    mention: [here]\n"}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete"}`,
	},
	"channels.thread_by": {
		rule: [2]string{liveRule, liveRule + "    thread_by: ip_address\n"}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete","ip_address":"192.0.2.1"}`,
	},
	"channels.thread_window": {
		rule:   [2]string{liveRule + "    thread_by: ip_address\n", liveRule + "    thread_by: ip_address\n    thread_window: 1h\n"},
		alerts: same(liveAlerts),
		probe:  `{"action":"login.complete","ip_address":"192.0.2.1"}`,
	},
	"deploy_approval_alerts.enabled": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, strings.Replace(liveAlerts, "enabled: true", "enabled: false", 1)},
		probe: `{"action":"deploy_approval_request.create"}`,
	},
	"deploy_approval_alerts.slack_channel": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, strings.Replace(liveAlerts, `"#deploy"`, `"#deploy2"`, 1)},
		probe: `{"action":"deploy_approval_request.create"}`,
	},
	"deploy_approval_alerts.actions": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, strings.Replace(liveAlerts, "[deploy_approval_request.create]", "[deploy_approval_request.create, release.promote]", 1)},
		probe: `{"action":"release.promote"}`,
	},
	"deploy_approval_alerts.where": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, liveAlerts + "  where: {status: [failed]}\n"},
		probe: `{"action":"deploy_approval_request.create","status":"success"}`,
	},
	"deploy_approval_alerts.mention": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, liveAlerts + "  mention: [channel]\n"},
		probe: `{"action":"deploy_approval_request.create"}`,
	},
	"deploy_approval_alerts.thread": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, liveAlerts + "  thread: false\n"},
		probe: `{"action":"deploy_approval_request.create","resource":"42"}`,
	},
	"channels.template.title": {
		rule: [2]string{liveRule, liveRule + "    template: {title: \"{{.user_email}} logged in\"}\n"}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete","user_email":"a@example.com"}`,
	},
	"channels.template.fields": {
		rule: [2]string{liveRule, liveRule + "    template: {fields: [ip_address]}\n"}, alerts: same(liveAlerts),
		probe: `{"action":"login.complete","user_email":"a@example.com","ip_address":"192.0.2.1"}`,
	},
	"redact.secrets": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, liveAlerts + "redact: {secrets: false}\n"},
		probe: `{"action":"login.complete","command":"curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345'"}`,
	},
	"redact.fields": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, liveAlerts + "redact: {fields: [command]}\n"},
		probe: `{"action":"login.complete","command":"ls"}`,
	},
	"redact.patterns": {
		rule: same(liveRule), alerts: [2]string{liveAlerts, liveAlerts + "redact: {patterns: [\"ticket-[0-9]+\"]}\n"},
		probe: `{"action":"login.complete","notes":"ticket-42"}`,
	},
}

// configKeys walks the YAML keys of typ: it calls leaf with the dotted name
// of every key that holds a value, descending into sections and into the
// items of a live list (channels). A field that is neither a key nor marked
// `yaml:"-"` is reported: reload could not classify it.
func configKeys(t *testing.T, typ reflect.Type, prefix string, leaf func(key string, live bool)) {
	t.Helper()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.IsExported() && f.Tag.Get("yaml") == "" {
			t.Errorf("%s field %s has no yaml tag: name its key (or `yaml:\"-\"`) so that reload can tell whether it is live", typ, f.Name)
			continue
		}
		key := config.YAMLKey(f)
		if key == "" {
			continue
		}
		name := prefix + key
		live := config.IsLive(strings.SplitN(name, ".", 2)[0])
		ft := f.Type
		if ft.Kind() == reflect.Pointer && config.IsSection(ft.Elem()) { // an optional section (a rule's template)
			ft = ft.Elem()
		}
		switch {
		case config.IsSection(ft):
			configKeys(t, ft, name+".", leaf)
		case live && prefix == "" && ft.Kind() == reflect.Slice && config.IsSection(ft.Elem()):
			configKeys(t, ft.Elem(), name+".", leaf)
		default:
			leaf(name, live)
		}
	}
}

// Every config key is either live, and then a reload that changes it puts
// the change in force (what the daemon is handed routes or renders the
// probe event differently), or it needs a restart, and then a reload that
// changes it says so. Keys are found by reflection: a new one is classified by its
// place, and a new live one must get an edit in liveEdits.
func TestEveryConfigKeyIsLiveOrNeedsRestart(t *testing.T) {
	var liveKeys, restartKeys []string
	configKeys(t, reflect.TypeFor[config.Config](), "", func(key string, live bool) {
		if live {
			liveKeys = append(liveKeys, key)
		} else {
			restartKeys = append(restartKeys, key)
		}
	})
	if len(liveKeys) < len(liveEdits) || len(restartKeys) < 16 {
		t.Fatalf("found %d live keys and %d restart keys: the walk is broken", len(liveKeys), len(restartKeys))
	}
	for _, key := range liveKeys {
		edit, ok := liveEdits[key]
		if !ok {
			t.Errorf("%s is a live key (its section applies on reload) but liveEdits has no edit for it: add one whose effect on the probe's routes or message shows", key)
			continue
		}
		t.Run(key, func(t *testing.T) { checkLiveEdit(t, edit) })
	}
	// Restart keys are found by the same walk in config.RestartKeysChanged;
	// config's TestRestartKeysChanged changes each and checks it is named.
	t.Logf("%d live keys, each applied on reload; %d keys that need a restart: %s", len(liveKeys), len(restartKeys), strings.Join(restartKeys, " "))
}

// checkLiveEdit starts a reloader on the edit's first config, saves the
// second the way editors do (a temp file renamed over the config), and
// checks that the reload handed over a config and rules that route or show
// the probe otherwise, and needed no restart.
func checkLiveEdit(t *testing.T, edit liveEdit) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	text := func(i int) string { return "channels:\n" + edit.rule[i] + edit.alerts[i] }
	if err := os.WriteFile(path, []byte(text(0)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	before, err := rules.Compile(cfg.Channels, cfg.DeployApprovalAlerts)
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	var gotCfg *config.Config
	var got *rules.Rules
	r := newReloader(cfg, slog.New(slog.NewTextHandler(&logs, nil)), metrics.New("test"), func(c *config.Config, rs *rules.Rules) error {
		gotCfg, got = c, rs
		return nil
	})
	defer signal.Stop(r.hup)
	tmp := path + ".swp"
	if err := os.WriteFile(tmp, []byte(text(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if err := r.reload("file changed"); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatalf("the reload handed nothing over; log:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "restart") {
		t.Errorf("a live key was logged as needing a restart:\n%s", logs.String())
	}
	if a, b := observe(t, cfg, before, edit.probe), observe(t, gotCfg, got, edit.probe); a == b {
		t.Errorf("%s is routed and shown the same before and after the edit:\n%s\nthe edit's effect is not in what the reload handed over\nbefore:\n%s\nafter:\n%s", edit.probe, a, text(0), text(1))
	}
}

// observe is what the daemon does with line under cfg and r: where it goes
// and the message each destination gets.
func observe(t *testing.T, cfg *config.Config, r *rules.Rules, line string) string {
	t.Helper()
	var f event.Fields
	kind, action := event.ClassifyFields([]byte(line), &f)
	if kind != event.KindEvent {
		t.Fatalf("probe %s is not an audit event", line)
	}
	ev, err := event.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	render, err := delivery.NewRenderer(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range r.RouteEvent(action, &f) {
		m, _ := render.Pack([]event.Event{ev}, slack.Routing{Alert: d.Alert, Mentions: [][]string{d.Mention}, Templates: []string{d.Channel}})
		fmt.Fprintf(&b, "%+v\n%s\n", d, m.Text)
	}
	return b.String()
}
