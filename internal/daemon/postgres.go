package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/pgsource"
	"github.com/auditfwd/auditfwd/internal/pgstate"
	"github.com/auditfwd/auditfwd/internal/pipeline"
)

// The Postgres source (docs/high-availability.md): this instance stands by
// until it holds the leader lock; each term of leadership then reads the
// table from the lowest delivery cursor on, through a delivery service and
// a pipeline of its own, and ends the moment the lock is lost.

// postgres returns the source's loop, after checking the DSN can be read
// and parsed.
func (d *Daemon) postgres() (func(context.Context) error, error) {
	cfg := d.cfg
	dsn, err := cfg.PostgresDSN()
	if err != nil {
		return nil, fmt.Errorf("audit_log.source postgres: %w", err)
	}
	if dsn == "" {
		return nil, fmt.Errorf("audit_log.source is postgres but no DSN is configured: set audit_log.postgres.dsn_file, %s or the systemd credential %s",
			config.EnvPostgresDSN, config.CredPostgresDSN)
	}
	if _, err := pgstate.ParseDSN(dsn); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.PostgresDSNSource(), err)
	}
	pc := cfg.AuditLog.Postgres
	e := &pgstate.Elector{
		DSN: dsn, Schema: pc.StateSchema, Logger: d.log, Metrics: d.m,
		TryEvery:   min(max(pc.PollInterval, time.Second), 5*time.Second),
		StandingBy: d.setReady,
		Heartbeat:  d.hb.beat,
	}
	return func(ctx context.Context) error { return e.Run(ctx, d.lead) }, nil
}

// lead is one term of leadership: ctx ends when the lock is lost or the
// daemon stops.
func (d *Daemon) lead(ctx context.Context, s *pgstate.Session) error {
	cfg, log, m := d.cfg, d.log, d.m
	pc := cfg.AuditLog.Postgres
	if err := pgstate.Prepare(ctx, s, pc.StateSchema); err != nil {
		return err
	}
	cursors, err := pgstate.LoadCursors(ctx, s, pc.StateSchema, log)
	if err != nil {
		return err
	}
	d.mu.Lock()
	targets, render := d.targets, d.render
	d.mu.Unlock()
	after, err := cursors.Start(ctx, names(targets), func() (int64, error) {
		if cfg.AuditLog.StartAt == "beginning" {
			return -1, nil
		}
		var last int64
		err := s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
			var err error
			last, err = pgsource.LastIndex(ctx, conn)
			return err
		})
		return last, err
	})
	if err != nil {
		return err
	}
	svc, err := delivery.New(delivery.Options{
		State: cfg.State(), Queues: cfg.State().DBQueues(), Logger: log, Metrics: m, Conn: d.conn,
		Delivered: cursors.Delivered, Acked: cursors.Acked,
		Threads: pgstate.NewThreads(s, pc.StateSchema), Renderer: render,
	})
	if err != nil {
		return err
	}
	cursors.SetQueued(svc.Queued)

	// The term's own context: the senders stop with it, whether the lock
	// was lost (ctx) or the reader failed.
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	cursors.Add(names(d.targets)) // a reload since Start
	svc.SetRenderer(d.render)
	err = svc.Start(tctx, d.targets)
	a := &delivering{svc: svc, handler: pipeline.New(event.FormatJSON, cfg.AuditLog.MaxLineBytes, d.rules, svc, m), cursors: cursors}
	if err == nil {
		d.active = a
	}
	d.mu.Unlock()
	if err != nil {
		cancel()
		svc.Wait(shutdownGrace) // closes what New and Start opened
		return err
	}
	cursorsDone := make(chan struct{})
	go func() {
		defer close(cursorsDone)
		cursors.Run(tctx)
	}()
	d.setReady()
	log.Info("reading the gateway's audit table", "after_chain_index", after)

	reader := pgsource.New(pgsource.Options{
		Session: s, PollInterval: pc.PollInterval, Logger: log, Metrics: m,
		Committed: cursors.Committed, Writable: d.writable, Heartbeat: d.hb.beat,
	})
	readErr := reader.Run(tctx, a.handler, after)
	cancel()
	m.SourceLag.Set(0) // a standby reads nothing

	d.mu.Lock()
	d.active = nil
	d.mu.Unlock()
	// In-flight Slack requests finish (they are never cancelled). Before
	// another term opens these spools again, every sender must be gone.
	if !svc.Wait(shutdownGrace) {
		if s.Err() == nil && ctx.Err() != nil { // the daemon stops: it exits soon
			log.Warn("Slack requests still in flight at shutdown; they may be repeated by the next leader")
		} else {
			log.Warn("waiting for Slack requests still in flight before standing by")
			for !svc.Wait(shutdownGrace) {
			}
		}
	}
	<-cursorsDone
	return readErr
}
