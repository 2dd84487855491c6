package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/oauthsrv"
	"github.com/auditfwd/auditfwd/internal/pipeline"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/tailer"
	"github.com/auditfwd/auditfwd/internal/token"
)

// shutdownGrace is how long SIGTERM waits for in-flight Slack requests; the
// whole exit stays within systemd's and the SPEC's 10 s.
const shutdownGrace = 7 * time.Second

func cmdRun(env *cliEnv, args []string) error {
	fs, path := flags(env, "run")
	dryRun := fs.Bool("dry-run", false, "read the audit log from its start, print the messages it would post as JSON lines, and exit")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log_level)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	level := cfg.LogLevel
	if *logLevel != "" {
		level = *logLevel
	}
	log := newLogger(env.stderr, level)
	r, err := rules.Compile(cfg.Channels, cfg.DeployApprovalAlerts)
	if err != nil {
		return err
	}
	format, err := event.ParseFormat(cfg.AuditLog.Format)
	if err != nil {
		return err
	}
	m := metrics.New(version)
	if *dryRun {
		return dryRunLog(env, cfg, format, r, m)
	}
	d := &daemon{cfg: cfg, log: log, m: m}
	return d.run(format, r)
}

func dryRunLog(env *cliEnv, cfg *config.Config, format event.Format, r *rules.Rules, m *metrics.Metrics) error {
	printer := delivery.NewPrinter(env.stdout)
	h := pipeline.New(format, cfg.AuditLog.MaxLineBytes, r, printer, m)
	t := tailer.New(tailer.Options{Path: cfg.AuditLog.Path, Once: true, MaxLineBytes: cfg.AuditLog.MaxLineBytes}, h)
	return t.Run(context.Background())
}

// daemon is `auditfwd run`: the wiring of tailer → pipeline → spools → senders,
// the HTTP servers and the config reloader.
type daemon struct {
	cfg     *config.Config
	log     *slog.Logger
	m       *metrics.Metrics
	ready   atomic.Bool
	conn    *delivery.Connection
	svc     *delivery.Service
	handler *pipeline.Handler
	reload  *reloader
}

func (d *daemon) run(format event.Format, r *rules.Rules) error {
	cfg, log, m := d.cfg, d.log, d.m
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	d.conn = delivery.NewConnection(slack.Options{
		APIURL:  cfg.Slack.APIURL,
		Timeout: slack.DefaultTimeout,
		Observe: func(method string, dur time.Duration) {
			m.SlackRequestTime.WithLabelValues(method).Observe(dur.Seconds())
		},
	}, cfg.BotTokenFile(), log, m)
	svc, err := delivery.New(delivery.Options{StateDir: cfg.StateDir, Logger: log, Metrics: m, Conn: d.conn})
	if err != nil {
		return err
	}
	d.svc = svc
	if err := svc.Start(ctx, targets(cfg)); err != nil {
		return err
	}
	d.handler = pipeline.New(format, cfg.AuditLog.MaxLineBytes, r, svc, m)
	d.reload = newReloader(cfg, log, m, d.apply)

	metricsLn, err := net.Listen("tcp", cfg.Metrics.Listen)
	if err != nil {
		return fmt.Errorf("metrics.listen: %w", err)
	}
	adminLn, err := net.Listen("tcp", cfg.Admin.Listen)
	if err != nil {
		metricsLn.Close()
		return fmt.Errorf("admin.listen: %w", err)
	}
	metricsSrv := &http.Server{Handler: d.metricsHandler(), ReadHeaderTimeout: 10 * time.Second}
	adminHandler, err := d.adminHandler()
	if err != nil {
		return err
	}
	adminSrv := &http.Server{Handler: adminHandler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	go metricsSrv.Serve(metricsLn)
	go adminSrv.Serve(adminLn)
	log.Info("auditfwd started", "version", version, "config", cfg.Path, "audit_log", cfg.AuditLog.Path,
		"metrics", metricsLn.Addr().String(), "admin", adminLn.Addr().String())
	if connected, _, _ := d.conn.State(); !connected {
		log.Warn("not connected to Slack: events are held until you connect",
			"how", "open "+cfg.Admin.PublicURL+"/ (admin.listen "+cfg.Admin.Listen+") and click Connect to Slack, or set SLACK_BOT_TOKEN")
	}

	go d.conn.Run(ctx)
	go d.reload.watch(ctx)
	var hb heartbeat
	go watchdog(ctx, func() bool { return d.ready.Load() && hb.healthy() })

	t := tailer.New(tailer.Options{
		Path:           cfg.AuditLog.Path,
		StartAtEnd:     cfg.AuditLog.StartAt == "end",
		MaxLineBytes:   cfg.AuditLog.MaxLineBytes,
		CheckpointPath: cfgCheckpointPath(cfg),
		Logger:         log,
		Ready: func() {
			d.ready.Store(true)
			notifyReady()
		},
		Heartbeat: hb.beat,
		Lag:       func(n int64) { m.LogLagBytes.Set(float64(n)) },
	}, d.handler)
	tailErr := t.Run(ctx)
	stop()
	notifyStopping()
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

func cfgCheckpointPath(cfg *config.Config) string {
	return cfg.StateDir + "/checkpoint.json"
}

// apply swaps in reloaded routing rules.
func (d *daemon) apply(cfg *config.Config, r *rules.Rules) error {
	if err := d.svc.SetTargets(targets(cfg)); err != nil {
		return err
	}
	d.handler.SetRules(r)
	return nil
}

func (d *daemon) metricsHandler() http.Handler {
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

func (d *daemon) adminHandler() (http.Handler, error) {
	cfg := d.cfg
	secret, err := cfg.ClientSecret()
	if err != nil {
		return nil, err
	}
	password, err := cfg.AdminPassword()
	if err != nil {
		return nil, err
	}
	if password == "" {
		d.log.Warn("no admin password configured: the admin page answers 503", "fix", "set admin.password_file or AUDITFWD_ADMIN_PASSWORD")
	}
	srv := oauthsrv.New(oauthsrv.Options{
		PublicURL:    cfg.Admin.PublicURL,
		AuthorizeURL: cfg.Slack.AuthorizeURL,
		ClientID:     cfg.ClientID(),
		ClientSecret: secret,
		Password:     password,
		TokenPath:    cfg.BotTokenFile(),
		Exchange:     oauthsrv.SlackExchange(slack.Options{APIURL: cfg.Slack.APIURL, Timeout: slack.DefaultTimeout}, cfg.ClientID(), secret),
		Daemon:       adminView{d},
		Logger:       d.log,
	})
	return srv.Handler(), nil
}

// adminView shows the daemon to the admin page.
type adminView struct{ d *daemon }

func (a adminView) Channels() []oauthsrv.ChannelStatus {
	var out []oauthsrv.ChannelStatus
	for _, st := range a.d.svc.Statuses() {
		out = append(out, oauthsrv.ChannelStatus{
			Name: st.Name, SlackChannel: st.SlackChannel, Patterns: st.Patterns, Alert: st.Alert, Where: st.Where, Mention: st.Mention,
			LastResult: st.LastResult, LastTime: st.LastTime, LastHint: st.LastHint,
			DeadLetters: st.DeadLetters, Queue: st.Queue,
		})
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

// targets lists the configured destinations for delivery and the admin page.
func targets(cfg *config.Config) []delivery.Target {
	var out []delivery.Target
	for _, c := range cfg.Channels {
		out = append(out, delivery.Target{Name: c.Name, SlackChannel: c.SlackChannel, Patterns: c.Actions,
			Where: conditions(c.Where), Mention: c.Mention})
	}
	if a := cfg.DeployApprovalAlerts; a.Enabled {
		out = append(out, delivery.Target{Name: config.AlertsChannelName, SlackChannel: a.SlackChannel, Patterns: a.Actions, Alert: true,
			Where: conditions(a.Where), Mention: a.Mention})
	}
	return out
}

// conditions shows a rule's where conditions as they are written.
func conditions(cs []config.Condition) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}
