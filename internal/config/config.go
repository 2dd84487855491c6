// Package config owns auditfwd's configuration file: its YAML schema, the
// defaults (docs/configuration.md), strict validation with file:line errors,
// and where secrets come from (files, environment, systemd credentials), and
// the configured destinations (Targets). It reads files
// and environment variables; it never opens a network connection, never
// writes a file and never puts a secret's value into an error or a log.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// DefaultPath is the configuration file used when neither --config nor
// AUDITFWD_CONFIG names one.
const DefaultPath = "/etc/auditfwd/config.yaml"

// AlertsChannelName is the name deploy approval alerts go by wherever a
// channel name is shown: metrics labels, `auditfwd test`, `auditfwd route`.
// No configured channel may take it.
const AlertsChannelName = "deploy_approval_alerts"

// Defaults, as docs/configuration.md lists them.
const (
	DefaultAuditLogPath  = "/var/log/rack-gateway/audit.log"
	DefaultFormat        = "auto"
	DefaultStartAt       = "end"
	DefaultMaxLineBytes  = 1 << 20
	DefaultStateDir      = "/var/lib/auditfwd"
	DefaultAPIURL        = "https://slack.com/api/"
	DefaultAuthorizeURL  = "https://slack.com/oauth/v2/authorize"
	DefaultMetricsListen = "127.0.0.1:9464"
	DefaultAdminListen   = "127.0.0.1:8089"
	DefaultLogLevel      = "info"
	DefaultAlertsChannel = "#deploy-approvals"
	DefaultThreadWindow  = 24 * time.Hour
	DefaultSource        = SourceFile
	DefaultStateSchema   = "auditfwd"
	DefaultPollInterval  = time.Second
)

// The values of audit_log.source.
const (
	SourceFile     = "file"
	SourcePostgres = "postgres"
)

// Config is a loaded, validated configuration file with every default filled in.
type Config struct {
	Path     string   `yaml:"-"` // file it was loaded from
	AuditLog AuditLog `yaml:"audit_log"`
	StateDir string   `yaml:"state_dir"`
	Slack    Slack    `yaml:"slack"`
	Metrics  Metrics  `yaml:"metrics"`
	Admin    Admin    `yaml:"admin"`
	LogLevel string   `yaml:"log_level"` // debug | info | warn | error
	// Channels holds the routing rules in file order: the two default channels
	// when the key is absent, empty (route nothing) for `channels: []`.
	Channels             []Channel            `yaml:"channels"`
	DeployApprovalAlerts DeployApprovalAlerts `yaml:"deploy_approval_alerts"`
	// Redact is what never leaves the host; live on reload, like Channels.
	Redact Redact `yaml:"redact"`
}

// AuditLog says where the audit events come from and how to read them.
type AuditLog struct {
	Source       string   `yaml:"source"` // file | postgres
	Path         string   `yaml:"path"`
	Format       string   `yaml:"format"`   // auto | json | docker | cri
	StartAt      string   `yaml:"start_at"` // end | beginning
	MaxLineBytes int      `yaml:"max_line_bytes"`
	Postgres     Postgres `yaml:"postgres"`
}

// Postgres is the gateway's database as the source (docs/high-availability.md):
// where the DSN is, auditfwd's own schema, and how often to look for rows.
// The DSN itself is a secret; see PostgresDSN.
type Postgres struct {
	DSNFile      string        `yaml:"dsn_file"`
	StateSchema  string        `yaml:"state_schema"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// Slack holds the Web API endpoints and where the app's credentials live.
// The secrets themselves are never in the file; see ClientSecret and BotTokenFile.
type Slack struct {
	APIURL           string `yaml:"api_url"` // always ends with "/"
	AuthorizeURL     string `yaml:"authorize_url"`
	ClientID         string `yaml:"client_id"`
	ClientSecretFile string `yaml:"client_secret_file"`
	BotTokenFile     string `yaml:"bot_token_file"`
}

// Metrics is the Prometheus listener.
type Metrics struct {
	Listen string `yaml:"listen"`
}

// Admin is the admin page and OAuth listener.
type Admin struct {
	Listen       string `yaml:"listen"`
	PublicURL    string `yaml:"public_url"`
	PasswordFile string `yaml:"password_file"`
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// for the login limiter; without them every visitor has the proxy's address.
	TrustedProxies []netip.Prefix `yaml:"trusted_proxies"`
}

// Channel is one routing rule: events whose action matches one of Actions
// (path.Match patterns) and that meet every Where condition go to
// SlackChannel, pinging Mention.
type Channel struct {
	Name         string      `yaml:"name"`
	SlackChannel string      `yaml:"slack_channel"` // "#name", "name" or an ID like C0123ABCD
	Actions      []string    `yaml:"actions"`
	Where        []Condition `yaml:"where"`   // every one must hold; in file order
	Mention      []string    `yaml:"mention"` // S… user group, U…/W… user, here, channel
	Line         int         `yaml:"-"`       // line of the list item; 0 for the built-in defaults
	ActionLines  []int       `yaml:"-"`       // ActionLines[i] is the line of Actions[i]; 0 for defaults
	MentionLines []int       `yaml:"-"`       // MentionLines[i] is the line of Mention[i]
	// ThreadBy names the event field whose value keys a Slack thread;
	// events with the same value within ThreadWindow share one
	// (docs/threads.md). "" posts every event on its own.
	ThreadBy     string        `yaml:"thread_by"`
	ThreadWindow time.Duration `yaml:"thread_window"` // 24h when ThreadBy is set alone
	// Template is what the rule's messages say; nil: the default layout.
	Template *Template `yaml:"template"`
	lines    ruleLines
}

// DeployApprovalAlerts sends matching events to one more channel, formatted
// as an alert, whatever the channel rules say.
type DeployApprovalAlerts struct {
	Enabled      bool        `yaml:"enabled"`
	SlackChannel string      `yaml:"slack_channel"`
	Actions      []string    `yaml:"actions"`
	Where        []Condition `yaml:"where"`
	Mention      []string    `yaml:"mention"`
	Line         int         `yaml:"-"` // line of the deploy_approval_alerts key; 0 when absent
	ActionLines  []int       `yaml:"-"` // ActionLines[i] is the line of Actions[i]; 0 for defaults
	MentionLines []int       `yaml:"-"`
	// Thread: a request's whole life in one Slack thread (default true,
	// docs/threads.md).
	Thread bool `yaml:"thread"`
	lines  ruleLines
}

// Condition is one key of a rule's where: the event field Field must match
// at least one plain glob of Globs (when it has any) and none of those
// written with a leading '!'. docs/rules.md has the details.
type Condition struct {
	Field     string
	Globs     []string // as written: "!x" excludes x, `\!x` matches a literal "!x"
	Line      int      // line of the key; 0 when built by hand
	GlobLines []int    // GlobLines[i] is the line of Globs[i]
}

// String shows the condition as YAML would: `status: [failed, denied]`,
// `api_token_name: [""]`.
func (c Condition) String() string {
	gs := make([]string, len(c.Globs))
	for i, g := range c.Globs {
		gs[i] = g
		if g == "" || strings.ContainsAny(g, `,[]{}"'#`) || g != strings.TrimSpace(g) {
			gs[i] = strconv.Quote(g)
		}
	}
	return c.Field + ": [" + strings.Join(gs, ", ") + "]"
}

// ruleLines remembers where a rule's keys were, for validation messages.
type ruleLines struct {
	name, slack, actions int
}

// Error is one problem at a place in the file.
type Error struct {
	File string
	Line int // 0 when the problem has no single line
	Msg  string
}

// Error returns "file:line: message", leaving out what is unknown.
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	default:
		return e.Msg
	}
}

// Errors is every problem found in one file, in line order. errors.As finds
// each *Error through Unwrap.
type Errors []*Error

// Error returns one "file:line: message" per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As and errors.Is see each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read config: %w (name the config file with --config FILE or AUDITFWD_CONFIG; configs/example.yaml is a complete example)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse validates data as a configuration file; filename is used in messages
// and becomes Config.Path. On invalid input the error is an Errors listing
// every problem found.
func Parse(data []byte, filename string) (*Config, error) {
	cfg := defaults()
	cfg.Path = filename
	d := &decoder{file: filename}
	if len(data) > MaxFileBytes {
		return nil, tooLarge(filename)
	}
	root := d.parse(data)
	if root != nil && !d.checkAliases(root) {
		return nil, d.errs
	}
	channelsSet := false
	if root != nil {
		channelsSet = d.config(root, cfg)
	}
	if !channelsSet {
		cfg.Channels = DefaultChannels()
	}
	d.errs = append(d.errs, checkRules(filename, cfg.Channels, &cfg.DeployApprovalAlerts)...)
	if len(d.errs) > 0 {
		d.sort()
		return nil, d.errs
	}
	return cfg, nil
}

func defaults() *Config {
	return &Config{
		AuditLog: AuditLog{
			Source:       DefaultSource,
			Path:         DefaultAuditLogPath,
			Format:       DefaultFormat,
			StartAt:      DefaultStartAt,
			MaxLineBytes: DefaultMaxLineBytes,
			Postgres:     Postgres{StateSchema: DefaultStateSchema, PollInterval: DefaultPollInterval},
		},
		StateDir: DefaultStateDir,
		Slack: Slack{
			APIURL:       DefaultAPIURL,
			AuthorizeURL: DefaultAuthorizeURL,
		},
		Metrics:              Metrics{Listen: DefaultMetricsListen},
		Admin:                Admin{Listen: DefaultAdminListen},
		LogLevel:             DefaultLogLevel,
		DeployApprovalAlerts: defaultAlerts(),
		Redact:               Redact{Secrets: true},
	}
}

// DefaultChannels returns the rules used when the file has no channels key
// (docs/configuration.md). Each call returns fresh slices. Role changes are
// logged as user.update (the roles are in its details), so the security
// channel takes user.update; user.update_roles, which the contract's
// example names, stays for gateways that may write it.
func DefaultChannels() []Channel {
	mk := func(name, slack string, actions ...string) Channel {
		return Channel{Name: name, SlackChannel: slack, Actions: actions, ActionLines: make([]int, len(actions))}
	}
	return []Channel{
		mk("security", "#security",
			"login.complete", "login.*_failed", "login.user_not_authorized", "mfa_method.*", "user.update", "user.update_roles", "api_token.*"),
		mk("infrastructure", "#infrastructure",
			"deploy_approval_request.*", "release.promote"),
	}
}

func defaultAlerts() DeployApprovalAlerts {
	actions := []string{"deploy_approval_request.create", "deploy_approval_request.created"}
	return DeployApprovalAlerts{
		SlackChannel: DefaultAlertsChannel,
		Actions:      actions,
		ActionLines:  make([]int, len(actions)),
		Thread:       true,
	}
}
