// Package tailer follows the gateway's audit log file and hands every complete
// line, in order, to a Handler. It owns files, offsets, rotation, truncation
// and the checkpoint; it knows nothing about events, routing or Slack.
//
// It reads with positioned reads on a descriptor it holds, in bulk, and uses
// fsnotify only as a wake-up. A rotated file is read to its end (and a little
// longer, for a writer that has not reopened yet) before the next one.
package tailer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/fswatch"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Handler receives the lines of the log.
type Handler interface {
	// Line receives one complete line without its newline. line is valid only
	// during the call. end is the position just after the line.
	Line(line []byte, end logpos.Position)
	// Skip reports a line that is not passed on: event.KindOversized, or
	// event.KindMalformed for a run of NUL padding (copytruncate).
	Skip(kind event.Kind, end logpos.Position)
	// Commit hands everything handed over since the last Commit on: it
	// may reach Slack before it is durable. It returns false when the
	// current position must not be checkpointed yet (mid multi-line record).
	Commit() (bool, error)
	// Sync makes everything committed durable. The tailer calls it off its
	// read path (from a goroutine of its own, never at the same time as
	// Rollback) and checkpoints a position only after the Sync that
	// followed its Commit.
	Sync() error
	// Rollback forgets everything that is not durable: the tailer reads
	// those lines again later (state_dir unwritable).
	Rollback()
}

// Options configure a Tailer.
type Options struct {
	Path           string
	StartAtEnd     bool // only when there is no checkpoint and the file exists
	MaxLineBytes   int
	CheckpointPath string // "" writes no checkpoint (dry run)
	Once           bool   // read the file from its beginning to its end, then return
	// RotateWait is how long a rotated or deleted file must stay unchanged
	// before the tailer moves on (a writer may not have reopened yet).
	RotateWait time.Duration
	// PollInterval re-checks the file even without fsnotify events (NFS, missed events).
	PollInterval time.Duration
	// Watch is the process's shared fsnotify watcher; nil: the tailer
	// starts one of its own.
	Watch *fswatch.Hub
	// CommitBytes bounds how much log is read between checkpoints during a backlog.
	CommitBytes int64
	Logger      *slog.Logger
	Ready       func()            // once the start position is fixed and saved
	Heartbeat   func()            // after every round and commit: proof of life for the watchdog
	Lag         func(bytes int64) // bytes in the log not read yet
	// Writable reports whether commits succeed: false while the state
	// directory cannot be written and the tailer holds back, true again once
	// a commit went through.
	Writable func(ok bool)
	// HighWater returns the last position downstream stores already hold.
	// Without a usable checkpoint, numbering restarts after it, so that new
	// lines are never mistaken for ones already queued.
	HighWater func() logpos.Position

	// Present reports whether the log file exists (false while the tailer
	// waits for it to appear), when that changes.
	Present func(ok bool)
	// MissingWarnEvery is how often a log that still cannot be opened is
	// reported again (default 10 minutes); it is reported at once.
	MissingWarnEvery time.Duration

	// CheckpointEvery bounds how often the checkpoint is rewritten while
	// following a log that keeps growing (each rewrite is a temp file, two
	// fsyncs and a rename); new events reach the Handler's Commit at once.
	CheckpointEvery time.Duration
}

const (
	defaultRotateWait   = time.Second
	defaultPollInterval = time.Second
	defaultCommitBytes  = 4 << 20
	defaultCheckpoint   = time.Second
	// The read buffer is readBuffer while a backlog is read (few, large
	// reads) and idleBuffer once the file stops growing: an idle daemon
	// does not keep a quarter of a megabyte it only needs during a
	// catch-up.
	readBuffer = 256 << 10
	idleBuffer = 16 << 10
)

type openFile struct {
	f        *os.File
	name     string
	dev, ino uint64
	fp       fingerprint
	gen      uint64
	off      int64 // start of the next unhandled line: what the checkpoint records
	safe     int64 // off at the last successful commit: where a rollback resumes
	scan     int64 // next byte to read while skipping an over-long line
	skipping bool
	padding  bool // NUL padding seen at the start of the current line
	n        int  // bytes of the current partial line held in the buffer

	goneSince  time.Time // when the path stopped naming this file
	sizeAtGone int64
}

func (of *openFile) pos() logpos.Position { return logpos.Position{Gen: of.gen, Offset: of.off} }

// Tailer follows one log path.
type Tailer struct {
	opts      Options
	log       *slog.Logger
	h         Handler
	buf       []byte
	cur       *openFile
	gen       uint64 // highest generation handed out
	lastSaved Checkpoint
	uncommit  int64 // bytes read since the last commit
	wake      chan struct{}

	lastSaveTime time.Time // when lastSaved was written

	stat  func(string) (os.FileInfo, error) // os.Stat; tests inject failures
	fault *stateFault                       // set while commits fail

	absent  *absence // set while the log cannot be opened
	present *bool    // last reported to Options.Present

	afterCommit func(*openFile)                        // tests: act in the window before the fingerprint is extended
	sy          *syncer                                // makes commits durable off the read path (nil: Once, or no checkpoint)
	lastHanded  Checkpoint                             // the position of the last job handed to sy
	saveCP      func(path string, cp Checkpoint) error // nil: saveCheckpoint; tests slow it down
}

// New prepares a Tailer; Run starts it.
func New(opts Options, h Handler) *Tailer {
	if opts.RotateWait <= 0 {
		opts.RotateWait = defaultRotateWait
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = defaultPollInterval
	}
	if opts.CommitBytes <= 0 {
		opts.CommitBytes = defaultCommitBytes
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = defaultCheckpoint
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = 1 << 20
	}
	if opts.MissingWarnEvery <= 0 {
		opts.MissingWarnEvery = defaultMissingWarnEvery
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tailer{
		opts: opts,
		log:  opts.Logger,
		h:    h,
		buf:  make([]byte, min(idleBuffer, opts.MaxLineBytes+1)),
		wake: make(chan struct{}, 1),
		stat: os.Stat,
	}
}

// Run follows the file until ctx is cancelled (then it returns nil after
// committing) or, with Once, until the end of the file.
func (t *Tailer) Run(ctx context.Context) error {
	if t.opts.Once {
		return t.runOnce(ctx)
	}
	if t.opts.CheckpointPath != "" {
		t.sy = newSyncer(t.opts.CheckpointPath, t.h.Sync, t.checkpointWriter())
		defer t.sy.close()
	}
	stopWatch := t.watch()
	defer stopWatch()

	t.start()
	if t.cur != nil {
		t.opened()
	}
	if t.opts.Ready != nil {
		t.opts.Ready()
	}
	defer t.closeCurrent()

	poll := time.NewTicker(t.opts.PollInterval)
	defer poll.Stop()
	wait, err := time.Duration(0), t.commit()
	for {
		if err != nil {
			if !isCommitError(err) {
				return err
			}
			wait = t.holdBack(err)
		} else if t.fault != nil {
			t.recovered()
		}
		if wait != 0 {
			var timer *time.Timer
			var timeout <-chan time.Time
			if wait > 0 {
				timer = time.NewTimer(wait)
				timeout = timer.C
			}
			select {
			case <-ctx.Done():
			case <-t.wake:
			case <-poll.C:
			case <-timeout:
			}
			if timer != nil {
				timer.Stop()
			}
		}
		if ctx.Err() != nil {
			return t.shutdown()
		}
		if t.opts.Heartbeat != nil {
			t.opts.Heartbeat()
		}
		wait, err = t.step(ctx)
		if err != nil && ctx.Err() != nil {
			return t.shutdown()
		}
	}
}

func (t *Tailer) runOnce(ctx context.Context) error {
	f, err := os.Open(t.opts.Path)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	of, err := t.newOpenFile(f, t.opts.Path, 0)
	if err != nil {
		f.Close()
		return err
	}
	t.cur = of
	defer t.closeCurrent()
	if err := t.drain(ctx, of, true); err != nil {
		return err
	}
	return t.commit()
}

// step does one round of work. It returns how long to wait for a wake-up
// (-1: until an event or the poll tick; 0: go again at once).
func (t *Tailer) step(ctx context.Context) (time.Duration, error) {
	if t.cur == nil {
		f, err := os.Open(t.opts.Path)
		if err != nil {
			t.unopened(err)
			return -1, nil
		}
		of, err := t.newOpenFile(f, t.opts.Path, 0)
		if err != nil {
			f.Close()
			return -1, err
		}
		t.log.Info("reading audit log", "path", t.opts.Path, "file", of.name)
		t.opened()
		t.cur = of
		return 0, t.commit()
	}
	of := t.cur
	// Truncation first: reading at the old offset of a truncated and rewritten
	// file would hand over the middle of some other line.
	if trunc, err := t.isTruncated(of); err != nil || trunc {
		if err != nil {
			return -1, err
		}
		return 0, t.truncated(ctx, of)
	}
	if err := t.drain(ctx, of, false); err != nil {
		return -1, err
	}
	// Checked again: a truncation racing with the read above is caught here
	// (the lines read past it may repeat; none is lost).
	if trunc, err := t.isTruncated(of); err != nil || trunc {
		if err != nil {
			return -1, err
		}
		return 0, t.truncated(ctx, of)
	}
	if err := t.commitFollowing(); err != nil {
		return -1, err
	}
	if t.afterCommit != nil {
		t.afterCommit(of)
	}
	size := t.reportLag(of)
	if of.fp.n < fingerprintMax && size > int64(of.fp.n) {
		// The head is still growing: extend the fingerprint, unless the bytes
		// it was taken from are gone (truncated and regrown since the checks
		// above); then it is a truncation.
		if !of.fp.extend(of.f, size) {
			return 0, t.truncated(ctx, of)
		}
	}

	// Rotation: the path names another file (or none) now.
	pfi, err := t.stat(t.opts.Path)
	if err == nil {
		if dev, ino := devIno(pfi); dev == of.dev && ino == of.ino {
			of.goneSince = time.Time{}
			return -1, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		// Not a rotation: the path cannot be looked at right now. Keep
		// following the open file; deciding it was rotated would read it
		// again from its start after RotateWait.
		t.log.Warn("cannot stat audit log path; following the open file", "path", t.opts.Path, "err", err)
		of.goneSince = time.Time{}
		return -1, nil
	}
	now := time.Now()
	if of.goneSince.IsZero() {
		t.log.Debug("audit log rotated; reading the old file to its end", "file", of.name)
	}
	if of.goneSince.IsZero() || size != of.sizeAtGone {
		of.goneSince, of.sizeAtGone = now, size
	}
	if left := t.opts.RotateWait - now.Sub(of.goneSince); left > 0 {
		return left, nil
	}
	if err := t.drain(ctx, of, true); err != nil {
		return -1, err
	}
	// The old file's last lines are durable before it is closed: a failed
	// commit keeps it open and reads them again.
	if err := t.commit(); err != nil {
		return -1, err
	}
	return 0, t.moveOn(of)
}

func (t *Tailer) newOpenFile(f *os.File, name string, off int64) (*openFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", name, err)
	}
	dev, ino := devIno(fi)
	t.gen++
	return &openFile{
		f: f, name: name, dev: dev, ino: ino,
		fp:  takeFingerprint(f, fi.Size()),
		gen: t.gen, off: off, scan: off, safe: off,
	}, nil
}

func (t *Tailer) closeCurrent() {
	if t.cur != nil {
		t.cur.f.Close()
		t.cur = nil
	}
}

func (t *Tailer) reportLag(of *openFile) int64 {
	fi, err := of.f.Stat()
	if err != nil {
		return 0
	}
	if t.opts.Lag != nil {
		t.opts.Lag(max(0, fi.Size()-of.off))
	}
	return fi.Size()
}
