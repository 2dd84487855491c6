package tailer

import (
	"path/filepath"
	"strings"

	"github.com/auditfwd/auditfwd/internal/fswatch"
)

// watch wakes the tailer on file-system events in the log's directory (and
// the symlink target's), through Options.Watch or a watcher of its own. The
// poll tick covers file systems without events.
func (t *Tailer) watch() func() {
	hub := t.opts.Watch
	own := hub == nil
	if own {
		var err error
		if hub, err = fswatch.New(); err != nil {
			t.log.Warn("fsnotify unavailable; polling the audit log", "err", err)
			return func() {}
		}
	}
	sub := hub.Subscribe()
	names := map[string]bool{}
	add := func(p string) {
		dir := filepath.Dir(p)
		if err := sub.Add(dir); err != nil {
			t.log.Debug("cannot watch directory; polling", "dir", dir, "err", err)
		}
		names[filepath.Base(p)] = true
	}
	add(t.opts.Path)
	if real, err := filepath.EvalSymlinks(t.opts.Path); err == nil && real != t.opts.Path {
		add(real)
	}
	done := make(chan struct{})
	go func() {
		events, errs := sub.Events(), sub.Errors()
		for {
			select {
			case <-done:
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				base := filepath.Base(ev.Name)
				relevant := false
				for n := range names {
					if strings.HasPrefix(base, n) || strings.HasPrefix(base, "..") {
						relevant = true
					}
				}
				if relevant {
					select {
					case t.wake <- struct{}{}:
					default:
					}
				}
			case err, ok := <-errs:
				if !ok {
					return
				}
				t.log.Warn("fsnotify", "err", err)
			}
		}
	}()
	return func() {
		close(done)
		sub.Close()
		if own {
			hub.Close()
		}
	}
}
