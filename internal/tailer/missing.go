package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"time"
)

// defaultMissingWarnEvery is how often a log that is still missing (or
// cannot be opened) is reported again.
const defaultMissingWarnEvery = 10 * time.Minute

// absence tracks a run of rounds in which the log could not be opened.
type absence struct {
	since  time.Time
	warned time.Time
	err    string // the last reason, so that a new one is reported at once
}

// unopened handles a log that could not be opened: missing (the daemon
// waits for it; a misspelt audit_log.path looks exactly like this) or
// unreadable. It says so at once and again at least every
// MissingWarnEvery, and reports the file as absent while it does not exist.
func (t *Tailer) unopened(err error) {
	missing := errors.Is(err, os.ErrNotExist)
	t.setPresent(!missing)
	now := time.Now()
	a := t.absent
	if a == nil {
		a = &absence{since: now}
		t.absent = a
	} else if a.err == err.Error() && now.Sub(a.warned) < t.opts.MissingWarnEvery {
		return
	}
	a.warned, a.err = now, err.Error()
	args := []any{"path", t.opts.Path, "since", a.since.UTC().Format(time.RFC3339)}
	if !missing {
		t.log.Warn("cannot open audit log; retrying (nothing is read until it can be opened)", append(args, "err", err)...)
		return
	}
	dir := filepath.Dir(t.opts.Path)
	if _, derr := os.Stat(dir); errors.Is(derr, os.ErrNotExist) {
		t.log.Warn("audit log does not exist, nor does its directory; waiting for it (is audit_log.path right?)", append(args, "directory", dir)...)
		return
	}
	t.log.Warn("audit log does not exist; waiting for it (is audit_log.path right?)", args...)
}

// opened ends a run of rounds without the log.
func (t *Tailer) opened() {
	t.setPresent(true)
	if t.absent != nil {
		t.log.Info("audit log found; reading it", "path", t.opts.Path, "waited", time.Since(t.absent.since).Round(time.Second).String())
		t.absent = nil
	}
}

// setPresent reports whether the log file exists, when that changes.
func (t *Tailer) setPresent(ok bool) {
	if t.present != nil && *t.present == ok {
		return
	}
	t.present = &ok
	if t.opts.Present != nil {
		t.opts.Present(ok)
	}
}
