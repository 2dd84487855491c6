package tailer

import (
	"errors"
	"fmt"
	"time"

	"github.com/auditfwd/auditfwd/internal/backoff"
)

// commitError marks a failure to make progress durable (the handler's
// spools or the checkpoint): the state directory cannot be written. It never
// stops the tailer: it holds back in the log, which is the buffer, and tries
// again.
type commitError struct{ err error }

func (e *commitError) Error() string { return e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

func isCommitError(err error) bool {
	var ce *commitError
	return errors.As(err, &ce)
}

// stateFault tracks a run of failed commits.
type stateFault struct {
	since    time.Time
	attempts int
	logged   time.Time
}

const (
	faultRetryMax = 30 * time.Second
	faultLogEvery = time.Minute
)

// holdBack handles a failed commit: everything handed over since the last
// good commit is rolled back and will be read again from the log. It returns
// how long to wait before trying again (jittered exponential backoff).
func (t *Tailer) holdBack(err error) time.Duration {
	t.rollback()
	if of := t.cur; of != nil {
		safe := t.durableOffset(of)
		of.off, of.scan, of.n, of.skipping, of.padding = safe, safe, 0, false, false
	}
	now := time.Now()
	first := t.fault == nil
	if first {
		t.fault = &stateFault{since: now}
		if t.opts.Writable != nil {
			t.opts.Writable(false)
		}
	}
	f := t.fault
	f.attempts++
	if first || now.Sub(f.logged) >= faultLogEvery {
		f.logged = now
		t.log.Error("cannot write to the state directory; holding back in the audit log (nothing is lost: it is read again once writing works)",
			"err", err, "since", f.since.UTC().Format(time.RFC3339), "attempts", f.attempts,
			"behind_bytes", t.behind(), "file", t.curName())
	} else {
		t.log.Debug("state directory still cannot be written; holding back", "err", err, "attempts", f.attempts)
	}
	return backoff.Delay(f.attempts, faultRetryMax)
}

// rollback rolls the handler back to what is durable, once no sync runs.
func (t *Tailer) rollback() {
	if t.sy != nil {
		t.sy.flush() // a failure it reports is the one being handled
	}
	t.h.Rollback()
}

// recovered ends a run of failed commits.
func (t *Tailer) recovered() {
	t.log.Info("state directory writable again; reading on", "held_back_for", time.Since(t.fault.since).Round(time.Second).String(), "attempts", t.fault.attempts)
	t.fault = nil
	if t.opts.Writable != nil {
		t.opts.Writable(true)
	}
}

// shutdown commits on the way out. Progress that cannot be saved is read
// again next time, so a state fault does not fail the exit.
func (t *Tailer) shutdown() error {
	err := t.commit()
	if err != nil && isCommitError(err) {
		t.rollback()
		t.log.Warn("could not save progress at shutdown; the lines after the last checkpoint will be read again", "err", err)
		return nil
	}
	return err
}

// behind is how many bytes of the current file are not durably handled.
func (t *Tailer) behind() int64 {
	if t.cur == nil {
		return 0
	}
	fi, err := t.cur.f.Stat()
	if err != nil {
		return 0
	}
	return max(0, fi.Size()-t.cur.off)
}

func (t *Tailer) curName() string {
	if t.cur == nil {
		return ""
	}
	return t.cur.name
}

func commitFailed(err error) error { return &commitError{fmt.Errorf("commit: %w", err)} }
