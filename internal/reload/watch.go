// Package reload notices that the config file changed: fsnotify on the file's
// directory (editors' write-and-rename, vim's backup dance, Kubernetes
// ConfigMap symlink swaps), debounced, plus a slow re-check for file systems
// without events. It never parses the file; its caller decides what a change means.
package reload

import (
	"context"
	"crypto/sha256"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Options tune Watch; zero values take the defaults.
type Options struct {
	Debounce time.Duration // default 200ms: one save arrives as several events
	Recheck  time.Duration // default 30s: the safety net for NFS and lost events
	Logger   *slog.Logger
}

// Watch calls changed (from its own goroutine, never concurrently) after the
// file at path may have changed, until ctx is done.
func Watch(ctx context.Context, path string, o Options, changed func()) error {
	if o.Debounce <= 0 {
		o.Debounce = 200 * time.Millisecond
	}
	if o.Recheck <= 0 {
		o.Recheck = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := w.Add(dir); err != nil {
		w.Close()
		return err
	}
	base := filepath.Base(path)
	last := fingerprint(path)
	go func() {
		defer w.Close()
		var debounce <-chan time.Time
		recheck := time.NewTicker(o.Recheck)
		defer recheck.Stop()
		fire := func() {
			// Only a real change counts: a touch or chmod is noise.
			if fp := fingerprint(path); fp != last {
				last = fp
				changed()
			}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Base(ev.Name)
				if ev.Op == fsnotify.Chmod || (name != base && !strings.HasPrefix(name, "..")) {
					continue
				}
				debounce = time.After(o.Debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				o.Logger.Warn("config watch", "err", err)
			case <-debounce:
				debounce = nil
				fire()
			case <-recheck.C:
				fire()
			}
		}
	}()
	return nil
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
