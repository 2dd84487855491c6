package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// specExample is the documented example of the product contract, verbatim
// apart from public_url (its keys are listed in docs/configuration.md).
const specExample = `
audit_log:
  path: /var/log/rack-gateway/audit.log   # waits for the file if it does not exist yet
  format: auto                            # auto | json | docker | cri
  start_at: end                           # end | beginning: only when no checkpoint exists
  max_line_bytes: 1048576
state_dir: /var/lib/auditfwd              # checkpoint, spool, token, dead letters
slack:
  api_url: https://slack.com/api/         # tests and proxies point this elsewhere
  authorize_url: https://slack.com/oauth/v2/authorize
  client_id: ""                           # or env SLACK_CLIENT_ID
  client_secret_file: ""                  # or env SLACK_CLIENT_SECRET
  bot_token_file: ""                      # default <state_dir>/slack-token.json
metrics:
  listen: 127.0.0.1:9464                  # /metrics, /healthz, /readyz
admin:
  listen: 127.0.0.1:8089
  public_url: https://your-gateway-domain.com
  password_file: ""                       # or env AUDITFWD_ADMIN_PASSWORD
channels:                                 # absent: the two defaults below; [] : route nothing
  - name: security                        # unique
    slack_channel: "#security"            # a channel name or a channel ID (C0123ABCD)
    actions: [login.complete, "login.*_failed", login.user_not_authorized, "mfa_method.*", user.update_roles, "api_token.*"]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions: ["deploy_approval_request.*", release.promote]
deploy_approval_alerts:
  enabled: false
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create, deploy_approval_request.created]
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(src), "c.yaml")
	if err != nil {
		t.Fatalf("Parse: unexpected error:\n%v", err)
	}
	return cfg
}

func TestSpecExampleEqualsDefaults(t *testing.T) {
	got := mustParse(t, specExample)
	want := mustParse(t, "")
	want.Admin.PublicURL = "https://your-gateway-domain.com"
	// The defaults route user.update too (role changes are logged as
	// user.update): the one difference, documented in docs/configuration.md.
	sec := &got.Channels[0]
	sec.Actions = slices.Insert(sec.Actions, 4, "user.update")
	if routing(got) != routing(want) {
		t.Errorf("the documented example routes differently from the defaults:\n got %s\nwant %s", routing(got), routing(want))
	}
	if keys := got.RestartKeysChanged(want); keys != nil {
		t.Errorf("the documented example differs from defaults in %v", keys)
	}
	if got.Channels[0].Line != 21 || !slices.Equal(got.Channels[0].ActionLines, []int{23, 23, 23, 23, 23, 23}) { // as written: without user.update
		t.Errorf("security lines = %d %v, want 21 [23 ×6]", got.Channels[0].Line, got.Channels[0].ActionLines)
	}
	if got.DeployApprovalAlerts.Line != 27 {
		t.Errorf("deploy_approval_alerts line = %d, want 27", got.DeployApprovalAlerts.Line)
	}
}

func TestDefaults(t *testing.T) {
	for _, src := range []string{"", "   \n\t\n", "# only a comment\n", "null\n", "---\n", "audit_log:\nslack:\nadmin:\nmetrics:\ndeploy_approval_alerts:\n"} {
		cfg := mustParse(t, src)
		want := &Config{
			Path: "c.yaml",
			AuditLog: AuditLog{Source: "file", Path: "/var/log/rack-gateway/audit.log", Format: "auto", StartAt: "end", MaxLineBytes: 1048576,
				Postgres: Postgres{StateSchema: "auditfwd", PollInterval: time.Second}},
			StateDir: "/var/lib/auditfwd",
			Slack:    Slack{APIURL: "https://slack.com/api/", AuthorizeURL: "https://slack.com/oauth/v2/authorize"},
			Metrics:  Metrics{Listen: "127.0.0.1:9464"},
			Admin:    Admin{Listen: "127.0.0.1:8089"},
			LogLevel: "info",
			Channels: []Channel{
				{Name: "security", SlackChannel: "#security",
					Actions:     []string{"login.complete", "login.*_failed", "login.user_not_authorized", "mfa_method.*", "user.update", "user.update_roles", "api_token.*"},
					ActionLines: make([]int, 7)},
				{Name: "infrastructure", SlackChannel: "#infrastructure",
					Actions:     []string{"deploy_approval_request.*", "release.promote"},
					ActionLines: make([]int, 2)},
			},
			DeployApprovalAlerts: DeployApprovalAlerts{
				SlackChannel: "#deploy-approvals",
				Actions:      []string{"deploy_approval_request.create", "deploy_approval_request.created"},
				ActionLines:  make([]int, 2),
				Thread:       true,
			},
			Redact: Redact{Secrets: true},
		}
		cfg.DeployApprovalAlerts.Line = 0
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("Parse(%q):\n got %+v\nwant %+v", src, cfg, want)
		}
	}
}

func TestChannelsAbsentVersusEmpty(t *testing.T) {
	if got := mustParse(t, "state_dir: /x\n").Channels; len(got) != 2 || got[0].Name != "security" || got[1].Name != "infrastructure" {
		t.Errorf("absent channels: got %+v, want the two defaults", got)
	}
	if got := mustParse(t, "channels: []\n").Channels; got == nil || len(got) != 0 {
		t.Errorf("channels: []: got %#v, want empty", got)
	}
	// Defaults are fresh each time: changing one config must not change another.
	a, b := mustParse(t, ""), mustParse(t, "")
	a.Channels[0].Actions[0] = "changed"
	if b.Channels[0].Actions[0] != "login.complete" {
		t.Error("default channels share memory between configs")
	}
}

func TestParseValues(t *testing.T) {
	cfg := mustParse(t, `
audit_log:
  path: /data/gw.log
  format: cri
  start_at: beginning
  max_line_bytes: 65536
state_dir: /srv/auditfwd
log_level: debug
slack:
  api_url: http://127.0.0.1:9999/api
  client_id: "1234.5678"
  bot_token_file: /run/token.json
metrics: {listen: ":9464"}
admin:
  listen: "[::1]:8089"
  public_url: https://gw.example.com
channels:
  - name: sec-1
    slack_channel: C0123ABCD
    actions:
      - login.*
      - "user.[cd]*"
deploy_approval_alerts:
  enabled: true
  slack_channel: '#approvals'
`)
	if cfg.AuditLog != (AuditLog{Source: "file", Path: "/data/gw.log", Format: "cri", StartAt: "beginning", MaxLineBytes: 65536,
		Postgres: Postgres{StateSchema: "auditfwd", PollInterval: time.Second}}) {
		t.Errorf("audit_log = %+v", cfg.AuditLog)
	}
	if cfg.Slack.APIURL != "http://127.0.0.1:9999/api/" {
		t.Errorf("api_url not normalised: %q", cfg.Slack.APIURL)
	}
	if cfg.ClientID() != "1234.5678" || cfg.BotTokenFile() != "/run/token.json" {
		t.Errorf("client_id %q, bot token file %q", cfg.ClientID(), cfg.BotTokenFile())
	}
	if cfg.StateDir != "/srv/auditfwd" || cfg.LogLevel != "debug" || cfg.Metrics.Listen != ":9464" || cfg.Admin.Listen != "[::1]:8089" {
		t.Errorf("cfg = %+v", cfg)
	}
	ch := cfg.Channels[0]
	if ch.Name != "sec-1" || ch.SlackChannel != "C0123ABCD" || !slices.Equal(ch.Actions, []string{"login.*", "user.[cd]*"}) ||
		ch.Line != 18 || !slices.Equal(ch.ActionLines, []int{21, 22}) {
		t.Errorf("channel = %+v", ch)
	}
	a := cfg.DeployApprovalAlerts
	if !a.Enabled || a.SlackChannel != "#approvals" || len(a.Actions) != 2 || a.Line != 23 {
		t.Errorf("alerts = %+v (default actions expected when the key is absent)", a)
	}
}

func TestAnchorsAndAliases(t *testing.T) {
	cfg := mustParse(t, `
channels:
  - name: a
    slack_channel: "#a"
    actions: &common [login.complete, logout]
  - name: b
    slack_channel: "#b"
    actions: *common
`)
	if !slices.Equal(cfg.Channels[1].Actions, []string{"login.complete", "logout"}) {
		t.Errorf("alias actions = %v", cfg.Channels[1].Actions)
	}
}

// TestErrors checks each problem is reported at its line, with the text an
// operator needs.
func TestErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // every line of err.Error(), in order
	}{
		{"unknown top-level key", "state_dir: /x\nchanels: []\n",
			[]string{`c.yaml:2: unknown key "chanels"; did you mean "channels"?`}},
		{"unknown nested keys", "audit_log:\n  path: /x\n  fromat: json\nslack:\n  token: xoxb\n",
			[]string{`c.yaml:3: unknown key "fromat" in audit_log; did you mean "format"?`,
				`c.yaml:5: unknown key "token" in slack (known keys: api_url, authorize_url, bot_token_file, client_id, client_secret_file)`}},
		{"unknown key in a channel", "channels:\n  - name: a\n    slack_channel: \"#a\"\n    actions: [logout]\n  - name: b\n    slak_channel: \"#b\"\n    slack_channel: \"#b\"\n    actions: [logout]\n",
			[]string{`c.yaml:6: unknown key "slak_channel" in channels[1]; did you mean "slack_channel"?`}},
		{"unknown key in alerts", "deploy_approval_alerts:\n  enable: true\n",
			[]string{`c.yaml:2: unknown key "enable" in deploy_approval_alerts; did you mean "enabled"?`}},
		{"unknown key in metrics and admin", "metrics:\n  listen: 127.0.0.1:1\n  path: /m\nadmin:\n  password: hunter2\n",
			[]string{`c.yaml:3: unknown key "path" in metrics (known keys: listen)`,
				`c.yaml:5: unknown key "password" in admin; did you mean "password_file"?`}},
		{"duplicate key", "state_dir: /a\nstate_dir: /b\n",
			[]string{`c.yaml:2: state_dir is set twice (first at line 1)`}},
		{"duplicate channel name", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [logout]\n  - name: sec\n    slack_channel: \"#b\"\n    actions: [logout]\n",
			[]string{`c.yaml:5: duplicate channel name "sec" (first at line 2)`}},
		{"malformed pattern", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions:\n      - logout\n      - login.[\n",
			[]string{`c.yaml:6: channel "sec": malformed pattern "login.[" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"malformed alert pattern even when disabled", "deploy_approval_alerts:\n  actions: ['deploy\\']\n",
			[]string{`c.yaml:2: deploy_approval_alerts: malformed pattern "deploy\\" (path.Match syntax: * any run, ? one character, [a-z] a class): syntax error in pattern`}},
		{"empty pattern", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [logout, \"\"]\n",
			[]string{`c.yaml:4: channel "sec": empty action pattern`}},
		{"pattern with spaces", "channels:\n  - name: sec\n    slack_channel: \"#a\"\n    actions: [\" logout\"]\n",
			[]string{`c.yaml:4: channel "sec": pattern " logout" has leading or trailing spaces and would never match`}},
		{"bad format, start_at, size, level", "audit_log:\n  format: syslog\n  start_at: middle\n  max_line_bytes: 0\nlog_level: verbose\n",
			[]string{`c.yaml:2: audit_log.format: "syslog" is not one of auto, json, docker, cri`,
				`c.yaml:3: audit_log.start_at: "middle" is not one of end, beginning`,
				`c.yaml:4: audit_log.max_line_bytes must be positive, not 0`,
				`c.yaml:5: log_level: "verbose" is not one of debug, info, warn, error`}},
		{"negative and non-integer size", "audit_log:\n  max_line_bytes: -5\n---\n",
			[]string{`c.yaml:2: audit_log.max_line_bytes must be positive, not -5`}},
		{"size with unit", "audit_log:\n  max_line_bytes: 1MiB\n",
			[]string{`c.yaml:2: audit_log.max_line_bytes must be a whole number of bytes, not "1MiB"`}},
		{"bad names", "channels:\n  - name: \"\"\n    slack_channel: \"#a\"\n    actions: [logout]\n  - name: Security\n    slack_channel: \"#a\"\n    actions: [logout]\n  - name: deploy_approval_alerts\n    slack_channel: \"#a\"\n    actions: [logout]\n  - slack_channel: \"#a\"\n    actions: [logout]\n",
			[]string{`c.yaml:2: channels[0] has no name`,
				`c.yaml:5: channels[1]: name "Security" must be lowercase letters, digits, '_' and '-', starting with a letter or digit (it is a metrics label and a command argument)`,
				`c.yaml:8: channels[2]: the name "deploy_approval_alerts" is reserved for the deploy_approval_alerts section`,
				`c.yaml:11: channels[3] has no name`}},
		{"unquoted # is a comment", "channels:\n  - name: sec\n    slack_channel: #security\n    actions: [logout]\n",
			[]string{`c.yaml:3: channel "sec" has no slack_channel (a name like "#security", quoted because of the #, or an ID like C0123ABCD)`}},
		{"no actions", "channels:\n  - name: a\n    slack_channel: \"#a\"\n    actions: []\n  - name: b\n    slack_channel: \"#b\"\n",
			[]string{`c.yaml:4: channel "a" has no actions; remove the channel or add patterns`,
				`c.yaml:5: channel "b" has no actions key; list the action patterns it receives`}},
		{"actions not a list", "channels:\n  - name: a\n    slack_channel: \"#a\"\n    actions: login.*\n",
			[]string{`c.yaml:4: channels[0].actions must be a list of action patterns, not "login.*"`,
				`c.yaml:4: channel "a" has no actions; remove the channel or add patterns`}},
		{"channels null", "channels:\n",
			[]string{"c.yaml:1: channels is empty: write `channels: []` to route nothing, or remove the key for the default channels"}},
		{"channels a mapping", "channels:\n  security: {}\n",
			[]string{`c.yaml:2: channels must be a list of channels, not a mapping`}},
		{"channel not a mapping", "channels:\n  - security\n",
			[]string{`c.yaml:2: channels[0] must be a mapping of keys to values, not "security"`}},
		{"alerts enabled but empty", "deploy_approval_alerts:\n  enabled: true\n  slack_channel: \"\"\n  actions: []\n",
			[]string{`c.yaml:3: deploy_approval_alerts is enabled but has no slack_channel`,
				`c.yaml:4: deploy_approval_alerts is enabled but has no actions`}},
		{"alerts enabled not bool", "deploy_approval_alerts:\n  enabled: sometimes\n",
			[]string{`c.yaml:2: deploy_approval_alerts.enabled must be true or false, not "sometimes"`}},
		{"bad urls and listeners", "slack:\n  api_url: slack.com/api\nadmin:\n  listen: 8089\n  public_url: ftp://x\nmetrics:\n  listen: [a]\n",
			[]string{`c.yaml:2: slack.api_url: "slack.com/api" is not an http(s) URL`,
				`c.yaml:4: admin.listen: "8089" is not a host:port address (e.g. 127.0.0.1:9464)`,
				`c.yaml:5: admin.public_url: "ftp://x" is not an http(s) URL`,
				`c.yaml:7: metrics.listen must be a string, not a list`}},
		{"section not a mapping", "audit_log: /var/log/x\n",
			[]string{`c.yaml:1: audit_log must be a mapping of keys to values, not "/var/log/x"`}},
		{"top level not a mapping", "- a\n- b\n",
			[]string{`c.yaml:1: the configuration must be a mapping of keys to values, not a list`}},
		{"merge key", "base: &b {path: /x}\n",
			[]string{`c.yaml:1: unknown key "base" (known keys: admin, audit_log, channels, deploy_approval_alerts, log_level, metrics, redact, slack, state_dir)`}},
		{"yaml syntax error", "audit_log:\n  path: /x\n   format: json\n",
			[]string{`c.yaml:3: invalid YAML: mapping values are not allowed in this context; check the indentation: line 3 is indented 3 spaces, more than line 2 (2), whose key has its value already; keys of one mapping line up in one column`}},
		{"tab indentation", "audit_log:\n\tpath: /x\n",
			[]string{`c.yaml:2: invalid YAML: found character that cannot start any token (tabs are not allowed for indentation)`}},
		{"second document", "state_dir: /a\n---\nstate_dir: /b\n",
			[]string{`c.yaml:2: a second YAML document (after ---) is not allowed; the configuration is one document`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse([]byte(tt.src), "c.yaml")
			if err == nil {
				t.Fatalf("no error; cfg = %+v", cfg)
			}
			if cfg != nil {
				t.Error("a config was returned with the error")
			}
			got := strings.Split(err.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n got %q\nwant %q", got, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "c.yaml" {
				t.Errorf("errors.As(*Error) = %v, %+v", errors.As(err, &e), e)
			}
		})
	}
}

func TestMergeKeyRejected(t *testing.T) {
	_, err := Parse([]byte("audit_log:\n  <<: {path: /x}\n"), "c.yaml")
	if err == nil || err.Error() != "c.yaml:2: audit_log: merge keys (<<) are not supported" {
		t.Errorf("err = %v", err)
	}
}

func TestErrorsAreSortedAndComplete(t *testing.T) {
	_, err := Parse([]byte("log_level: x\naudit_log:\n  format: y\n  bogus: 1\nchannels:\n  - name: A\n    slack_channel: ''\n    actions: ['[']\n"), "f.yaml")
	var es Errors
	if !errors.As(err, &es) || len(es) != 6 {
		t.Fatalf("want 6 errors, got %v", err)
	}
	for i := 1; i < len(es); i++ {
		if es[i-1].Line > es[i].Line {
			t.Errorf("errors out of line order: %v", err)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	for _, tt := range []struct {
		e    Error
		want string
	}{
		{Error{"f", 3, "m"}, "f:3: m"},
		{Error{"f", 0, "m"}, "f: m"},
		{Error{"", 3, "m"}, "line 3: m"},
		{Error{"", 0, "m"}, "m"},
	} {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(p, []byte("state_dir: /s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil || cfg.Path != p || cfg.StateDir != "/s" {
		t.Fatalf("Load = %+v, %v", cfg, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
	if err := os.WriteFile(p, []byte("nope: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.HasPrefix(err.Error(), p+":1: ") {
		t.Errorf("Load(invalid) = %v, want %s:1: prefix", err, p)
	}
}

// routing shows what a config routes, without line numbers.
func routing(c *Config) string {
	var b strings.Builder
	for _, ch := range c.Channels {
		fmt.Fprintf(&b, "%s %s %q %v %q %s %v; ", ch.Name, ch.SlackChannel, ch.Actions, ch.Where, ch.Mention, ch.ThreadBy, ch.ThreadWindow)
	}
	a := c.DeployApprovalAlerts
	fmt.Fprintf(&b, "alerts %v %s %q %v %q %v", a.Enabled, a.SlackChannel, a.Actions, a.Where, a.Mention, a.Thread)
	return b.String()
}

// TestRestartKeysChanged changes every leaf outside the live sections, at
// any depth, and checks each is named; a live-only change names none.
func TestRestartKeysChanged(t *testing.T) {
	base := mustParse(t, "")
	if got := base.RestartKeysChanged(mustParse(t, "channels: []\ndeploy_approval_alerts: {enabled: true}\n")); got != nil {
		t.Errorf("live-only change reported %v", got)
	}
	moved := mustParse(t, "\n\n# moved down\n")
	if got := base.RestartKeysChanged(moved); got != nil {
		t.Errorf("no change reported %v", got)
	}
	var leaves func(typ reflect.Type, prefix string, index []int)
	n := 0
	leaves = func(typ reflect.Type, prefix string, index []int) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			key := YAMLKey(f)
			if key == "" || prefix == "" && IsLive(key) {
				continue
			}
			at := append(slices.Clone(index), i)
			if IsSection(f.Type) {
				leaves(f.Type, prefix+key+".", at)
				continue
			}
			o := *base
			fv := reflect.ValueOf(&o).Elem().FieldByIndex(at)
			switch fv.Kind() {
			case reflect.String:
				fv.SetString(fv.String() + "x")
			case reflect.Int, reflect.Int64:
				fv.SetInt(fv.Int() + 1)
			case reflect.Bool:
				fv.SetBool(!fv.Bool())
			case reflect.Slice:
				fv.Set(reflect.Append(fv, reflect.New(fv.Type().Elem()).Elem()))
			default:
				t.Fatalf("%s: unhandled kind %v: teach this test to change it", prefix+key, fv.Kind())
			}
			if got := base.RestartKeysChanged(&o); !slices.Equal(got, []string{prefix + key}) {
				t.Errorf("changing %s: RestartKeysChanged = %v", prefix+key, got)
			}
			n++
		}
	}
	leaves(reflect.TypeFor[Config](), "", nil)
	if n < 16 {
		t.Errorf("only %d restart keys found", n)
	}
}

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	creds := t.TempDir()
	t.Setenv(EnvClientID, "env-id")
	t.Setenv(EnvClientSecret, "")
	t.Setenv(EnvAdminPassword, "")
	t.Setenv(EnvCredentialsDir, creds)

	cfg := mustParse(t, "")
	if cfg.ClientID() != "env-id" {
		t.Errorf("ClientID from env = %q", cfg.ClientID())
	}
	if s, err := cfg.ClientSecret(); s != "" || err != nil {
		t.Errorf("no secret anywhere: %q, %v", s, err)
	}
	if s, err := cfg.AdminPassword(); s != "" || err != nil {
		t.Errorf("no password anywhere: %q, %v", s, err)
	}
	if cfg.BotTokenFile() != "/var/lib/auditfwd/slack-token.json" {
		t.Errorf("BotTokenFile = %q", cfg.BotTokenFile())
	}

	// systemd credentials are the last resort.
	if err := os.WriteFile(filepath.Join(creds, CredClientSecret), []byte("cred-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, CredAdminPassword), []byte("cred-pw\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := cfg.ClientSecret(); s != "cred-secret" || err != nil {
		t.Errorf("credential secret: %q, %v", s, err)
	}
	if s, err := cfg.AdminPassword(); s != "cred-pw" || err != nil {
		t.Errorf("credential password: %q, %v", s, err)
	}

	// The environment beats credentials.
	t.Setenv(EnvClientSecret, "env-secret\n")
	t.Setenv(EnvAdminPassword, "env-pw")
	if s, _ := cfg.ClientSecret(); s != "env-secret" {
		t.Errorf("env secret: %q", s)
	}
	if s, _ := cfg.AdminPassword(); s != "env-pw" {
		t.Errorf("env password: %q", s)
	}

	// Files named in the config beat everything.
	sf := write("secret", "file-secret\n")
	pf := write("pw", "pass word \n\n")
	cfg = mustParse(t, "slack:\n  client_id: file-id\n  client_secret_file: "+sf+"\nadmin:\n  password_file: "+pf+"\nstate_dir: /st\n")
	if cfg.ClientID() != "file-id" {
		t.Errorf("ClientID from config = %q", cfg.ClientID())
	}
	if s, err := cfg.ClientSecret(); s != "file-secret" || err != nil {
		t.Errorf("file secret: %q, %v", s, err)
	}
	if s, err := cfg.AdminPassword(); s != "pass word " || err != nil {
		t.Errorf("file password: %q, %v", s, err)
	}
	if cfg.BotTokenFile() != "/st/slack-token.json" {
		t.Errorf("BotTokenFile = %q", cfg.BotTokenFile())
	}

	// A configured file that is missing or empty is an error that names the
	// file, never the secret.
	cfg.Slack.ClientSecretFile = filepath.Join(dir, "missing")
	if _, err := cfg.ClientSecret(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "slack.client_secret_file") {
		t.Errorf("missing secret file: %v", err)
	}
	cfg.Admin.PasswordFile = write("empty", "\n")
	if _, err := cfg.AdminPassword(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty password file: %v", err)
	}
	cfg.Admin.PasswordFile = pf
	if _, err := cfg.AdminPassword(); err != nil && strings.Contains(err.Error(), "pass word") {
		t.Errorf("error leaks the secret: %v", err)
	}
}
