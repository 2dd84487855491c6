package tailer

import (
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// watch wakes the tailer on file-system events in the log's directory (and
// the symlink target's). The poll tick covers file systems without events.
func (t *Tailer) watch() func() {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		t.log.Warn("fsnotify unavailable; polling the audit log", "err", err)
		return func() {}
	}
	names := map[string]bool{}
	add := func(p string) {
		dir := filepath.Dir(p)
		if err := w.Add(dir); err != nil {
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
		for {
			select {
			case <-done:
				return
			case ev, ok := <-w.Events:
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
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				t.log.Warn("fsnotify", "err", err)
			}
		}
	}()
	return func() {
		close(done)
		w.Close()
	}
}
