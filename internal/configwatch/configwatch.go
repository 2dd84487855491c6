// Package configwatch notices that the config file changed: fsnotify on the file's
// directory (editors' write-and-rename, vim's backup dance, Kubernetes
// ConfigMap symlink swaps) and on the directory of the file a symlink points
// to, debounced, plus a slow re-check for file systems without events. It
// never parses the file; its caller decides what a change means.
package configwatch

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/auditfwd/auditfwd/internal/fswatch"
)

// Options tune Watch; zero values take the defaults.
type Options struct {
	Debounce time.Duration // default 200ms: one save arrives as several events
	MaxDelay time.Duration // default 2s: a steady stream of events still fires this often
	Recheck  time.Duration // default 30s: the safety net for NFS and lost events
	Logger   *slog.Logger
	// Watch is the process's shared fsnotify watcher; nil: Watch starts
	// one of its own.
	Watch *fswatch.Hub
}

func (o *Options) defaults() {
	if o.Debounce <= 0 {
		o.Debounce = 200 * time.Millisecond
	}
	if o.MaxDelay < o.Debounce {
		o.MaxDelay = max(2*time.Second, o.Debounce)
	}
	if o.Recheck <= 0 {
		o.Recheck = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Watch calls changed (from its own goroutine, never concurrently) after the
// file at path may have changed, until ctx is done: once per burst of file
// system events about it (the debounce), and when the periodic re-check finds
// its content or symlink target different. Events about other files in the
// directory and chmod-only events are ignored. A caller that must not miss a
// change made before Watch started compares the file itself once after Watch
// returns.
//
// When fsnotify cannot be used (no inotify instances left, say), Watch logs
// it and relies on the re-check alone.
func Watch(ctx context.Context, path string, o Options, changed func()) {
	o.defaults()
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	w := &watcher{path: path, dir: filepath.Dir(path), o: o, changed: changed}
	w.last = fingerprint(path)
	hub, err := o.Watch, error(nil)
	own := hub == nil
	if own {
		hub, err = fswatch.New()
	}
	if err == nil {
		w.fw = hub.Subscribe()
		if err = w.fw.Add(w.dir); err != nil {
			w.fw.Close()
			w.fw = nil
		}
	}
	if err != nil {
		o.Logger.Warn("cannot watch the config directory; re-checking the file periodically (send SIGHUP to reload at once)",
			"dir", w.dir, "every", o.Recheck, "err", err)
		if own && hub != nil {
			hub.Close()
		}
	} else {
		if own {
			w.own = hub
		}
		w.follow()
	}
	go w.loop(ctx)
}

type watcher struct {
	path    string // absolute
	dir     string // filepath.Dir(path), always watched
	o       Options
	changed func()
	fw      *fswatch.Sub // nil: re-check only
	own     *fswatch.Hub // the watcher started for fw when none was shared; closed with it

	target    string // the file path's symlinks resolve to ("" when unresolvable)
	targetDir string // extra watched directory holding target, "" when none
	last      string // fingerprint when changed was last called
}

// follow watches the directory of the file the path's symlinks point to
// (a config symlinked into a git checkout, say), re-resolving after every
// event: edits there would otherwise only be seen by the re-check.
func (w *watcher) follow() {
	target, err := filepath.EvalSymlinks(w.path)
	if err != nil {
		target = ""
	}
	w.target = target
	dir := ""
	if target != "" && !w.inConfigMap(target) {
		// The watched directory may itself be reached through a symlink:
		// watching it twice would share one inotify watch.
		realDir, err := filepath.EvalSymlinks(w.dir)
		if err != nil {
			realDir = w.dir
		}
		if d := filepath.Dir(target); d != w.dir && d != realDir {
			dir = d
		}
	}
	if dir == w.targetDir {
		return
	}
	if w.targetDir != "" {
		w.fw.Remove(w.targetDir) // may be gone already; the kernel then dropped the watch
	}
	w.targetDir = ""
	if dir != "" {
		if err := w.fw.Add(dir); err != nil {
			w.o.Logger.Debug("config watch: cannot watch the symlink target's directory", "dir", dir, "err", err)
			return
		}
		w.targetDir = dir
	}
}

// inConfigMap reports whether target is inside a "..name" directory next to
// the config file: Kubernetes swaps those whole, seen through the ..data
// symlink in the watched directory.
func (w *watcher) inConfigMap(target string) bool {
	rel, err := filepath.Rel(w.dir, target)
	return err == nil && strings.HasPrefix(rel, "..") && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// relevant reports whether an event may concern the config file.
func (w *watcher) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod { // touch, chmod: the content did not change
		return false
	}
	name := filepath.Clean(ev.Name)
	dir, base := filepath.Split(name)
	dir = filepath.Clean(dir)
	switch {
	case name == w.path, w.target != "" && name == w.target:
		return true
	case dir == w.dir && strings.HasPrefix(base, ".."): // ConfigMap ..data, ..2026_03_20_…
		return true
	}
	return false
}

func (w *watcher) loop(ctx context.Context) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fw != nil {
		defer func() {
			w.fw.Close()
			if w.own != nil {
				w.own.Close()
			}
		}()
		events, errs = w.fw.Events(), w.fw.Errors()
	}
	recheck := time.NewTicker(w.o.Recheck)
	defer recheck.Stop()
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	var pendingSince time.Time // zero: nothing pending
	fire := func() {
		pendingSince = time.Time{}
		w.last = fingerprint(w.path)
		w.changed()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if !w.relevant(ev) {
				continue
			}
			w.follow()
			now := time.Now()
			if pendingSince.IsZero() {
				pendingSince = now
			}
			// Wait for the burst to end, but not longer than MaxDelay in all.
			wait := min(w.o.Debounce, pendingSince.Add(w.o.MaxDelay).Sub(now))
			debounce.Reset(max(wait, 0))
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			// Always drained: an undrained Errors channel blocks the watcher.
			// An overflow means events were lost: look at the file.
			w.o.Logger.Warn("config watch", "err", err)
			debounce.Reset(w.o.Debounce)
		case <-debounce.C:
			fire()
		case <-recheck.C:
			if w.fw != nil {
				w.follow()
			}
			if fingerprint(w.path) != w.last {
				fire()
			}
		}
	}
}

// fingerprint identifies the file's content and where its symlinks point.
func fingerprint(path string) string {
	real, _ := filepath.EvalSymlinks(path)
	data, err := os.ReadFile(path)
	if err != nil {
		return real + "\x00" + err.Error()
	}
	sum := sha256.Sum256(data)
	return real + "\x00" + string(sum[:])
}
