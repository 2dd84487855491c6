package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/reload"
	"github.com/auditfwd/auditfwd/internal/rules"
)

// reloader applies config changes all or nothing (Prometheus-style): load and
// validate the whole file, then swap; the deferred metric update counts every
// return path once.
type reloader struct {
	path  string
	log   *slog.Logger
	m     *metrics.Metrics
	apply func(*config.Config, *rules.Rules) error

	mu  sync.Mutex
	cur *config.Config
}

func newReloader(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, apply func(*config.Config, *rules.Rules) error) *reloader {
	m.ReloadSuccessful.Set(1)
	m.ReloadSuccessTime.SetToCurrentTime()
	return &reloader{path: cfg.Path, log: log, m: m, apply: apply, cur: cfg}
}

func (r *reloader) reload(trigger string) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	defer func() {
		if err != nil {
			r.m.ReloadSuccessful.Set(0)
			r.log.Error("config reload failed; keeping the last good rules", "trigger", trigger, "err", err)
			return
		}
		r.m.ReloadSuccessful.Set(1)
		r.m.ReloadSuccessTime.SetToCurrentTime()
	}()
	data, err := os.ReadFile(r.path)
	if err != nil {
		return fmt.Errorf("reload %s: %w", r.path, err)
	}
	// An editor caught mid-save leaves an empty file; its defaults would
	// silently re-route everything.
	if len(bytes.TrimSpace(data)) == 0 {
		return fmt.Errorf("reload %s: the file is empty", r.path)
	}
	cfg, err := config.Parse(data, r.path)
	if err != nil {
		return err
	}
	rs, err := rules.Compile(cfg.Channels, cfg.DeployApprovalAlerts)
	if err != nil {
		return fmt.Errorf("reload %s: %w", r.path, err)
	}
	for _, key := range cfg.RestartKeysChanged(r.cur) {
		r.log.Warn("config key changed; it takes effect after a restart", "key", key)
	}
	if !cfg.RoutingEqual(r.cur) {
		if err := r.apply(cfg, rs); err != nil {
			return fmt.Errorf("reload %s: %w", r.path, err)
		}
		r.log.Info("config reloaded; new routing rules in force", "trigger", trigger, "channels", len(cfg.Channels))
	} else {
		r.log.Info("config reloaded; routing unchanged", "trigger", trigger)
	}
	r.cur = cfg
	return nil
}

// watch reloads on SIGHUP and on file changes until ctx is done.
func (r *reloader) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	changed := make(chan struct{}, 1)
	if err := reload.Watch(ctx, r.path, reload.Options{Logger: r.log}, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}); err != nil {
		r.log.Warn("cannot watch the config file; reload with SIGHUP", "err", err)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			notifyReloading()
			r.reload("SIGHUP")
			notifyReady()
		case <-changed:
			r.reload("file changed")
		}
	}
}
