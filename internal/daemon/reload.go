package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/configwatch"
	"github.com/auditfwd/auditfwd/internal/fswatch"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/sdnotify"
)

// reloader applies config changes all or nothing (Prometheus-style): load and
// validate the whole file, then hand every valid one to apply, which puts
// the live sections in force whatever changed (nothing is compared, so no
// key can be forgotten); done counts every return path once.
type reloader struct {
	path  string
	log   *slog.Logger
	m     *metrics.Metrics
	apply func(*config.Config, *rules.Rules) error
	hup   chan os.Signal
	fsw   *fswatch.Hub // shared with the tailer; nil: configwatch starts its own

	mu   sync.Mutex
	boot *config.Config // what the process started with: restart-only keys keep its values
	// sum is the SHA-256 of the file content last read (valid when haveSum):
	// a file event that leaves the content as it was is not a reload.
	sum     [sha256.Size]byte
	haveSum bool
}

// newReloader takes cfg as the config in force. It subscribes to SIGHUP at
// once, so that a SIGHUP arriving before watch runs is not fatal (Go's
// default for SIGHUP is to exit).
func newReloader(cfg *config.Config, log *slog.Logger, m *metrics.Metrics, apply func(*config.Config, *rules.Rules) error) *reloader {
	m.ReloadSuccessful.Set(1)
	m.ReloadSuccessTime.SetToCurrentTime()
	r := &reloader{path: cfg.Path, log: log, m: m, apply: apply, boot: cfg, hup: make(chan os.Signal, 1)}
	signal.Notify(r.hup, syscall.SIGHUP)
	// Remember the file's content only if it is still what cfg was loaded
	// from; otherwise watch reloads once it runs.
	if data, err := config.ReadFile(r.path); err == nil {
		if now, err := config.Parse(data, r.path); err == nil && reflect.DeepEqual(now, cfg) {
			r.sum, r.haveSum = sha256.Sum256(data), true
		}
	}
	return r
}

// reload reads, validates and applies the config file. A trigger other than
// SIGHUP is skipped when the content is the same as at the last read: its
// outcome is already in the metrics and the log.
func (r *reloader) reload(trigger string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	data, err := config.ReadFile(r.path)
	if err != nil {
		r.haveSum = false
		return r.done(trigger, fmt.Errorf("reload %s: %w", r.path, err))
	}
	sum := sha256.Sum256(data)
	if trigger != triggerSIGHUP && r.haveSum && sum == r.sum {
		r.log.Debug("config file event; content unchanged", "trigger", trigger)
		return nil
	}
	r.sum, r.haveSum = sum, true
	return r.done(trigger, r.load(trigger, data, hex.EncodeToString(sum[:6])))
}

const triggerSIGHUP = "SIGHUP"

// done records the outcome of one reload attempt: metrics and the log.
func (r *reloader) done(trigger string, err error) error {
	if err == nil {
		r.m.ReloadSuccessful.Set(1)
		r.m.ReloadSuccessTime.SetToCurrentTime()
		return nil
	}
	r.m.ReloadSuccessful.Set(0)
	// One record per problem, each "file:line: message".
	var es config.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			r.log.Error("config reload failed; keeping the last good rules", "trigger", trigger, "err", e.Error())
		}
		return err
	}
	r.log.Error("config reload failed; keeping the last good rules", "trigger", trigger, "err", err)
	return err
}

func (r *reloader) load(trigger string, data []byte, sum string) error {
	// An editor caught mid-save leaves an empty file; its defaults would
	// silently re-route everything. Refused at reload, not at start-up.
	if blank(data) {
		return fmt.Errorf("%s: the file is empty (or only comments); an editor may be mid-save. To route nothing write `channels: []`", r.path)
	}
	cfg, err := config.Parse(data, r.path)
	if err != nil {
		return err
	}
	rs, err := rules.Compile(cfg) // its errors name the file and line
	if err != nil {
		return err
	}
	if keys := restartKeysChanged(r.boot, cfg); len(keys) > 0 {
		r.log.Warn("config keys changed that need a restart to take effect; running with their old values until then",
			"keys", strings.Join(keys, ","))
	}
	if err := r.apply(cfg, rs); err != nil {
		return fmt.Errorf("%s: apply the new rules: %w", r.path, err)
	}
	r.log.Info("config reloaded; its rules are in force", "trigger", trigger, "channels", len(cfg.Channels), "sha256", sum)
	for _, w := range rules.Lint(cfg) { // what `auditfwd check` says about these rules
		r.log.Warn("rules in force have a warning", "warning", w.String())
	}
	return nil
}

// liveSections are the top-level keys apply puts in force on every reload:
// every key inside them is live, every other key keeps the value the
// process started with until a restart. A key is classified by its place,
// never by a list of keys kept by hand.
var liveSections = [...]string{"channels", "deploy_approval_alerts", "redact"}

// isLive reports whether the top-level key applies on reload.
func isLive(key string) bool { return slices.Contains(liveSections[:], key) }

// restartKeysChanged returns the dotted names of the keys outside the live
// sections whose values differ between boot and cfg, e.g.
// ["audit_log.path", "metrics.listen"]: those need a restart to apply. It
// is nil when none differ.
func restartKeysChanged(boot, cfg *config.Config) []string {
	var out []string
	for _, key := range cfg.ChangedKeys(boot) {
		if top, _, _ := strings.Cut(key, "."); !isLive(top) {
			out = append(out, key)
		}
	}
	return out
}

// blank reports whether data holds no YAML content: only white space,
// comments and document markers.
func blank(data []byte) bool {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") && line != "---" && line != "..." {
			return false
		}
	}
	return true
}

// watch reloads on SIGHUP and on file changes until ctx is done.
func (r *reloader) watch(ctx context.Context) {
	defer signal.Stop(r.hup)
	changed := make(chan struct{}, 1)
	configwatch.Watch(ctx, r.path, configwatch.Options{Logger: r.log, Watch: r.fsw}, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	// A change made between start-up and the watch is seen here.
	r.reload("file changed")
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.hup:
			sdnotify.Reloading()
			r.reload(triggerSIGHUP)
			sdnotify.Ready()
		case <-changed:
			r.reload("file changed")
		}
	}
}
