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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/httpserver"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/notify"
	"github.com/auditfwd/auditfwd/internal/oauthsrv"
	"github.com/auditfwd/auditfwd/internal/pipeline"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/status"
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
}

// Daemon is one `auditfwd run`. Build it with New; Run runs it once.
type Daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	version string
	m       *metrics.Metrics
	format  event.Format
	rules   *rules.Rules
	render  *slack.Renderer // the start-up config's; reloads give the service new ones
	ready   atomic.Bool
	hb      heartbeat

	// Set by Run.
	conn    *delivery.Connection
	svc     *delivery.Service
	handler *pipeline.Handler
}

// New checks what can be checked before anything starts: the routing rules
// and the log format.
func New(cfg *config.Config, o Options) (*Daemon, error) {
	r, err := rules.Compile(cfg.Channels, cfg.DeployApprovalAlerts)
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
	return &Daemon{cfg: cfg, log: log, version: o.Version, m: m, format: format, rules: r, render: render}, nil
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

	d.conn = delivery.NewConnection(slack.Options{
		APIURL:  cfg.Slack.APIURL,
		Timeout: slack.DefaultTimeout,
		Observe: func(method string, dur time.Duration) {
			m.SlackRequestTime.WithLabelValues(method).Observe(dur.Seconds())
		},
	}, cfg.BotTokenFile(), log, m)
	svc, err := delivery.New(delivery.Options{State: state, Logger: log, Metrics: m, Conn: d.conn, Renderer: d.render})
	if err != nil {
		return err
	}
	d.svc = svc
	if err := svc.Start(ctx, cfg.Targets()); err != nil {
		return err
	}
	d.handler = pipeline.New(d.format, cfg.AuditLog.MaxLineBytes, d.rules, svc, m)
	reloader := newReloader(cfg, log, m, d.apply)

	metricsLn, err := httpserver.Listen("metrics.listen", cfg.Metrics.Listen)
	if err != nil {
		return err
	}
	adminLn, err := httpserver.Listen("admin.listen", cfg.Admin.Listen)
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
	go metricsSrv.Serve(metricsLn)
	go adminSrv.Serve(adminLn)
	log.Info("auditfwd started", "version", d.version, "config", cfg.Path, "audit_log", cfg.AuditLog.Path,
		"metrics", metricsLn.Addr().String(), "admin", adminLn.Addr().String())
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
	go notify.Watchdog(ctx, func() bool { return d.ready.Load() && d.hb.healthy() })

	t := tailer.New(tailer.Options{
		Path:           cfg.AuditLog.Path,
		StartAtEnd:     cfg.AuditLog.StartAt == "end",
		MaxLineBytes:   cfg.AuditLog.MaxLineBytes,
		CheckpointPath: state.Checkpoint(),
		Logger:         log,
		Ready: func() {
			d.ready.Store(true)
			notify.Ready()
		},
		Heartbeat: d.hb.beat,
		Lag:       func(n int64) { m.LogLagBytes.Set(float64(n)) },
		HighWater: svc.HighWater,
		Writable: func(ok bool) {
			if ok {
				m.StateDirWritable.Set(1)
			} else {
				m.StateDirWritable.Set(0)
			}
		},
	}, d.handler)
	tailErr := t.Run(ctx)
	stop()
	notify.Stopping()
	if tailErr != nil {
		log.Error("tailer stopped", "err", tailErr)
	}
	// In-flight Slack requests finish; the spools already hold the rest.
	if !svc.Wait(shutdownGrace) {
		log.Warn("Slack requests still in flight at shutdown; they may be repeated after restart")
	}
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	metricsSrv.Shutdown(sctx)
	adminSrv.Shutdown(sctx)
	if tailErr != nil {
		return tailErr
	}
	log.Info("auditfwd stopped")
	return nil
}

// apply swaps in reloaded routing rules and what messages show (redaction,
// templates): the new channels' spools open before the first event is
// routed to them; the senders lay out their next message with the new
// Renderer.
func (d *Daemon) apply(cfg *config.Config, r *rules.Rules) error {
	render, err := delivery.NewRenderer(cfg, d.m, d.log)
	if err != nil {
		return err
	}
	if err := d.svc.SetTargets(cfg.Targets()); err != nil {
		return err
	}
	d.svc.SetRenderer(render)
	d.handler.SetRules(r)
	return nil
}

func (d *Daemon) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.m.Registry, promhttp.HandlerOpts{Registry: d.m.Registry}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !d.ready.Load() {
			http.Error(w, "not ready: the tailer has not fixed its start position", http.StatusServiceUnavailable)
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
		TokenOverride:  token.EnvOverride,
	})
	return srv.Handler(), nil
}

// adminView shows the daemon to the admin page.
type adminView struct{ d *Daemon }

func (a adminView) Channels() []status.Channel { return a.d.svc.Statuses() }

func (a adminView) Connection() oauthsrv.Connection {
	connected, t, problem := a.d.conn.State()
	if !connected && t.AccessToken == "" {
		// Never connected: the page says "Not connected" and explains that
		// events are held. Problem is for a token Slack rejected ("Disconnected").
		problem = ""
	}
	return oauthsrv.Connection{Connected: connected, Team: t.TeamName, BotUser: t.BotUserID, Problem: problem}
}

func (a adminView) SendTest(ctx context.Context, name string) error {
	err := a.d.svc.SendTest(ctx, name)
	if errors.Is(err, delivery.ErrUnknownChannel) {
		return fmt.Errorf("%w: %s", oauthsrv.ErrUnknownChannel, name)
	}
	return err
}

// Connected installs the token the OAuth flow saved; delivery resumes at
// once (the connection drops cached channel IDs as it switches).
func (a adminView) Connected(t token.Token) { a.d.conn.Set(t) }
