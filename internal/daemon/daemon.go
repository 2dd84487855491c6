// Package daemon is `auditfwd run`: it wires tailer → pipeline → spools →
// senders → Slack, serves /metrics and the admin page, talks to systemd
// (readiness, reloads, watchdog) and applies config reloads. It owns the
// order in which these start and stop; the work itself is done by the
// packages it wires (docs/architecture.md). cmd/auditfwd and the benchmark
// both run the daemon through New and Run.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/fswatch"
	"github.com/auditfwd/auditfwd/internal/httpserver"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/oauthsrv"
	"github.com/auditfwd/auditfwd/internal/pgstate"
	"github.com/auditfwd/auditfwd/internal/pipeline"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/sdnotify"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/tailer"
	"github.com/auditfwd/auditfwd/internal/token"
)

// shutdownGrace is how long a stop waits for in-flight Slack requests; the
// whole exit stays within systemd's 10 s (docs/guarantees.md).
const shutdownGrace = 7 * time.Second

// Options are what the daemon takes besides the config.
type Options struct {
	Version string       // for auditfwd_build_info and the start-up log line
	Logger  *slog.Logger // nil: discard
	// IdleTimeout closes keep-alive connections of both listeners left
	// idle this long; 0: httpserver.IdleTimeout (tests shorten it).
	IdleTimeout time.Duration
}

// Daemon is one `auditfwd run`. Build it with New; Run runs it once.
type Daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	version string
	idle    time.Duration // Options.IdleTimeout
	m       *metrics.Metrics
	format  event.Format
	rules   *rules.Rules
	ready   atomic.Bool
	readyOK sync.Once // READY=1 to systemd, once
	hb      heartbeat

	// Set by Run.
	conn  *delivery.Connection
	watch *fswatch.Hub // the one fsnotify watcher, shared by the tailer and the config watch; nil: each starts its own

	// mu guards the rules in force and what delivers with them: for the
	// file source from start-up on, for the Postgres source only while this
	// instance leads (nil on a standby).
	mu      sync.Mutex
	targets []config.Target
	render  *slack.Renderer // what messages show (redaction, templates)
	active  *delivering
}

// delivering is the delivery service and the pipeline routing into it.
type delivering struct {
	svc     *delivery.Service
	handler *pipeline.Handler
	cursors *pgstate.Cursors // the Postgres source's; nil for the file source
}

// New checks what can be checked before anything starts: the routing rules
// and the log format.
func New(cfg *config.Config, o Options) (*Daemon, error) {
	r, err := rules.Compile(cfg)
	if err != nil {
		return nil, err
	}
	format, err := event.ParseFormat(cfg.AuditLog.Format)
	if err != nil {
		return nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := metrics.New(o.Version)
	render, err := delivery.NewRenderer(cfg, m, log)
	if err != nil {
		return nil, err
	}
	return &Daemon{cfg: cfg, log: log, version: o.Version, idle: o.IdleTimeout, m: m, format: format, rules: r, targets: cfg.Targets(), render: render}, nil
}

// setReady marks the daemon ready: /readyz answers 200, systemd gets READY=1.
func (d *Daemon) setReady() {
	d.ready.Store(true)
	d.readyOK.Do(func() { sdnotify.Ready() })
}

// Run forwards until ctx is done (SIGTERM), then stops reading, lets
// in-flight Slack requests finish, persists progress and returns nil. It
// returns an error when start-up fails or the tailer stops on its own.
func (d *Daemon) Run(ctx context.Context) error {
	cfg, log, m := d.cfg, d.log, d.m
	state := cfg.State()
	if err := state.Create(); err != nil {
		return err
	}
	// One owner per state_dir, before any of its state is read.
	lock, err := state.Lock()
	if err != nil {
		return err
	}
	defer lock.Release()
	// Before any state is read: refuse a newer layout, migrate an older one.
	if err := state.MigrateLayout(d.version, log); err != nil {
		return err
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	// One fsnotify watcher for the process: each costs an inotify instance
	// and a 128 KiB goroutine stack. Without it the tailer and the config
	// watch each try their own and say so when they cannot.
	if d.watch, err = fswatch.New(); err != nil {
		log.Debug("no shared fsnotify watcher", "err", err)
		d.watch = nil
	} else {
		defer d.watch.Close()
	}

	d.conn = delivery.NewConnection(slack.Options{
		APIURL:  cfg.Slack.APIURL,
		Timeout: slack.DefaultTimeout,
		Observe: func(method string, dur time.Duration) {
			m.SlackRequestTime.WithLabelValues(method).Observe(dur.Seconds())
		},
	}, cfg.BotTokenFile(), log, m)
	var source func(context.Context) error
	if cfg.AuditLog.Source == config.SourcePostgres {
		if source, err = d.postgres(); err != nil {
			return err
		}
		m.AuditLogPresent.Set(1) // no file to wait for: never AuditfwdAuditLogMissing
	} else {
		svc, err := delivery.New(delivery.Options{State: state, Logger: log, Metrics: m, Conn: d.conn, Renderer: d.render})
		if err != nil {
			return err
		}
		if err := svc.Start(ctx, cfg.Targets()); err != nil {
			return err
		}
		d.active = &delivering{svc: svc, handler: pipeline.New(d.format, cfg.AuditLog.MaxLineBytes, d.rules, svc, m)}
		source = d.tail
	}
	reloader := newReloader(cfg, log, m, d.apply)
	reloader.fsw = d.watch

	metricsLn, err := httpserver.Listen("metrics.listen", cfg.Metrics.Listen, httpserver.MetricsMaxConns)
	if err != nil {
		return err
	}
	adminLn, err := httpserver.Listen("admin.listen", cfg.Admin.Listen, httpserver.AdminMaxConns)
	if err != nil {
		metricsLn.Close()
		return err
	}
	adminHandler, err := d.adminHandler()
	if err != nil {
		metricsLn.Close()
		adminLn.Close()
		return err
	}
	metricsSrv := httpserver.New(d.metricsHandler())
	adminSrv := httpserver.New(adminHandler)
	if d.idle > 0 {
		metricsSrv.IdleTimeout, adminSrv.IdleTimeout = d.idle, d.idle
	}
	go metricsSrv.Serve(metricsLn)
	go adminSrv.Serve(adminLn)
	from := []any{"audit_log", cfg.AuditLog.Path}
	if cfg.AuditLog.Source == config.SourcePostgres {
		from = []any{"source", "postgres", "state_schema", cfg.AuditLog.Postgres.StateSchema}
	}
	log.Info("auditfwd started", append(append([]any{"version", d.version, "config", cfg.Path}, from...),
		"metrics", metricsLn.Addr().String(), "admin", adminLn.Addr().String())...)
	for _, w := range rules.Lint(cfg) { // what `auditfwd check` says
		log.Warn("rules in force have a warning", "warning", w.String())
	}
	for _, w := range cfg.Placeholders() {
		log.Warn(w)
	}
	if connected, _, _ := d.conn.State(); !connected {
		log.Warn("not connected to Slack: events are held until you connect",
			"how", "open "+cfg.Admin.PublicURL+"/ (admin.listen "+cfg.Admin.Listen+") and click Connect to Slack, or set SLACK_BOT_TOKEN")
	}

	go d.conn.Run(ctx)
	go reloader.watch(ctx)
	go sdnotify.Watchdog(ctx, func() bool { return d.ready.Load() && d.hb.healthy() })
	go releaseWhenIdle(ctx)

	srcErr := source(ctx)
	stop()
	sdnotify.Stopping()
	if srcErr != nil {
		log.Error("the audit source stopped", "err", srcErr)
	}
	if d.active != nil { // the file source; a Postgres leader waited for its own
		// In-flight Slack requests finish; the spools already hold the rest.
		if !d.active.svc.Wait(shutdownGrace) {
			log.Warn("Slack requests still in flight at shutdown; they may be repeated after restart")
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	metricsSrv.Shutdown(sctx)
	adminSrv.Shutdown(sctx)
	if srcErr != nil {
		return srcErr
	}
	log.Info("auditfwd stopped")
	return nil
}

// tail runs the file source until ctx is done.
func (d *Daemon) tail(ctx context.Context) error {
	cfg, m := d.cfg, d.m
	t := tailer.New(tailer.Options{
		Path:           cfg.AuditLog.Path,
		StartAtEnd:     cfg.AuditLog.StartAt == "end",
		MaxLineBytes:   cfg.AuditLog.MaxLineBytes,
		CheckpointPath: cfg.State().Checkpoint(),
		Logger:         d.log,
		Ready:          d.setReady,
		Heartbeat:      d.hb.beat,
		Lag:            func(n int64) { m.LogLagBytes.Set(float64(n)) },
		HighWater:      d.active.svc.HighWater,
		Writable:       d.writable,
		Present:        d.logPresent,
		Watch:          d.watch,
	}, d.active.handler)
	return t.Run(ctx)
}

// logPresent reports whether the audit log file exists.
func (d *Daemon) logPresent(ok bool) { setFlag(d.m.AuditLogPresent, ok) }

// writable reports whether state_dir can be written.
func (d *Daemon) writable(ok bool) { setFlag(d.m.StateDirWritable, ok) }

// setFlag sets a gauge that is 1 or 0.
func setFlag(g prometheus.Gauge, on bool) {
	if on {
		g.Set(1)
	} else {
		g.Set(0)
	}
}

// apply swaps in reloaded routing rules and what messages show (redaction,
// templates): the new channels' spools open (and with the Postgres source,
// their cursors start) before the first event is routed to them; the
// senders lay out their next message with the new Renderer. A standby keeps
// them for when it leads.
func (d *Daemon) apply(cfg *config.Config, r *rules.Rules) error {
	render, err := delivery.NewRenderer(cfg, d.m, d.log)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules, d.targets, d.render = r, cfg.Targets(), render
	a := d.active
	if a == nil {
		return nil
	}
	if a.cursors != nil {
		a.cursors.Add(names(d.targets))
	}
	if err := a.svc.SetTargets(d.targets); err != nil {
		return err
	}
	a.svc.SetRenderer(render)
	a.handler.SetRules(r)
	return nil
}

func names(targets []config.Target) []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.Name
	}
	return out
}

// current is what delivers now; nil on a standby.
func (d *Daemon) current() *delivering {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.active
}

func (d *Daemon) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	// Uncompressed: the exposition is about 20 KB, and the gzip
	// writer promhttp keeps between scrapes held about 1.5 MB of an idle
	// daemon's memory (README, "/metrics is not compressed").
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.m.Registry, promhttp.HandlerOpts{Registry: d.m.Registry, DisableCompression: true}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			msg := "not ready: the tailer has not fixed its start position"
			if d.cfg.AuditLog.Source == config.SourcePostgres {
				msg = "not ready: the gateway's database has not answered yet"
			}
			http.Error(w, msg, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	return mux
}

func (d *Daemon) adminHandler() (http.Handler, error) {
	cfg := d.cfg
	secret, err := cfg.ClientSecret()
	if err != nil {
		return nil, err
	}
	password, err := cfg.AdminPassword()
	if err != nil {
		return nil, err
	}
	browserKey, err := oauthsrv.LoadBrowserKey(cfg.State().BrowserKey())
	if err != nil {
		d.log.Error("admin page: cannot use the known-browser key; browsers that logged in before must log in again after each restart until this is fixed", "err", err)
	}
	srv := oauthsrv.New(oauthsrv.Options{
		PublicURL:      cfg.Admin.PublicURL,
		AuthorizeURL:   cfg.Slack.AuthorizeURL,
		ClientID:       cfg.ClientID(),
		ClientSecret:   secret,
		Password:       password,
		TokenPath:      cfg.BotTokenFile(),
		Exchange:       oauthsrv.SlackExchange(slack.Options{APIURL: cfg.Slack.APIURL, Timeout: slack.DefaultTimeout}, cfg.ClientID(), secret),
		Daemon:         adminView{d},
		Logger:         d.log,
		TrustedProxies: cfg.Admin.TrustedProxies,
		BrowserKey:     browserKey,
		TokenOverride:  token.EnvOverride,
	})
	return srv.Handler(), nil
}

// adminView shows the daemon to the admin page.
type adminView struct{ d *Daemon }

func (a adminView) Channels() []delivery.ChannelStatus {
	if cur := a.d.current(); cur != nil {
		return cur.svc.Statuses()
	}
	// A standby: the configured channels, nothing delivered from here.
	a.d.mu.Lock()
	defer a.d.mu.Unlock()
	out := make([]delivery.ChannelStatus, len(a.d.targets))
	for i, t := range a.d.targets {
		out[i] = delivery.ChannelStatus{Target: t}
	}
	return out
}

func (a adminView) Connection() oauthsrv.Connection {
	connected, t, problem := a.d.conn.State()
	if !connected && t.AccessToken == "" {
		// Never connected: the page says "Not connected" and explains that
		// events are held. Problem is for a token Slack rejected ("Disconnected").
		problem = ""
	}
	c := oauthsrv.Connection{Connected: connected, Team: t.TeamName, BotUser: t.BotUserID, Problem: problem}
	if a.d.cfg.AuditLog.Source == config.SourcePostgres {
		c.Instance = "standby"
		if a.d.current() != nil {
			c.Instance = "leader"
		}
	}
	return c
}

func (a adminView) SendTest(ctx context.Context, name string) error {
	cur := a.d.current()
	if cur == nil {
		return errors.New("this instance is a standby (audit_log.source: postgres) and makes no Slack calls: press Test on the leader's admin page, or run `auditfwd test` there")
	}
	err := cur.svc.SendTest(ctx, name)
	if errors.Is(err, delivery.ErrUnknownChannel) {
		return fmt.Errorf("%w: %s", oauthsrv.ErrUnknownChannel, name)
	}
	return err
}

// Connected installs the token the OAuth flow saved; delivery resumes at
// once (the connection drops cached channel IDs as it switches).
func (a adminView) Connected(t token.Token) { a.d.conn.Set(t) }
