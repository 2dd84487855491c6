// Package tailer follows the gateway's audit log file and hands every complete
// line, in order, to a Handler. It owns files, offsets, rotation, truncation
// and the checkpoint; it knows nothing about events, routing or Slack.
//
// It reads with positioned reads on a descriptor it holds, in bulk, and uses
// fsnotify only as a wake-up. A rotated file is read to its end (and a little
// longer, for a writer that has not reopened yet) before the next one.
package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/auditfwd/auditfwd/internal/event"
)

// Handler receives the lines of the log.
type Handler interface {
	// Line receives one complete line without its newline. line is valid only
	// during the call. end is the position just after the line.
	Line(line []byte, end Position)
	// Skip reports a line that is not passed on: event.KindOversized, or
	// event.KindMalformed for a run of NUL padding (copytruncate).
	Skip(kind event.Kind, end Position)
	// Commit makes everything handed over durable. It returns false when the
	// current position must not be checkpointed yet (mid multi-line record).
	Commit() (bool, error)
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
	// CommitBytes bounds how much log is read between checkpoints during a backlog.
	CommitBytes int64
	Logger      *slog.Logger
	Ready       func()            // once the start position is fixed and saved
	Heartbeat   func()            // after every round and commit: proof of life for the watchdog
	Lag         func(bytes int64) // bytes in the log not read yet

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
	initialBuffer       = 256 << 10
)

type openFile struct {
	f        *os.File
	name     string
	dev, ino uint64
	fp       fingerprint
	gen      uint64
	off      int64 // start of the next unhandled line: what the checkpoint records
	scan     int64 // next byte to read while skipping an over-long line
	skipping bool
	padding  bool // NUL padding seen at the start of the current line
	n        int  // bytes of the current partial line held in the buffer

	goneSince  time.Time // when the path stopped naming this file
	sizeAtGone int64
}

func (of *openFile) pos() Position { return Position{Gen: of.gen, Offset: of.off} }

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
	cps          *checkpointer
	saveCP       func(path string, cp Checkpoint) error // nil: saveCheckpoint; tests slow it down
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tailer{
		opts: opts,
		log:  opts.Logger,
		h:    h,
		buf:  make([]byte, min(initialBuffer, opts.MaxLineBytes+1)),
		wake: make(chan struct{}, 1),
	}
}

// Run follows the file until ctx is cancelled (then it returns nil after
// committing) or, with Once, until the end of the file.
func (t *Tailer) Run(ctx context.Context) error {
	if t.opts.Once {
		return t.runOnce(ctx)
	}
	if t.opts.CheckpointPath != "" {
		t.cps = newCheckpointer(t.opts.CheckpointPath, t.checkpointWriter())
		defer t.cps.close()
	}
	stopWatch := t.watch()
	defer stopWatch()

	if err := t.start(); err != nil {
		return err
	}
	if t.opts.Ready != nil {
		t.opts.Ready()
	}
	defer t.closeCurrent()

	poll := time.NewTicker(t.opts.PollInterval)
	defer poll.Stop()
	for {
		if t.opts.Heartbeat != nil {
			t.opts.Heartbeat()
		}
		wait, err := t.step(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return t.commit()
			}
			return err
		}
		if wait == 0 {
			continue
		}
		var timer *time.Timer
		var timeout <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			timeout = timer.C
		}
		select {
		case <-ctx.Done():
			return t.commit()
		case <-t.wake:
		case <-poll.C:
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
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
			if !errors.Is(err, os.ErrNotExist) {
				t.log.Warn("cannot open audit log", "path", t.opts.Path, "err", err)
			}
			return -1, nil
		}
		of, err := t.newOpenFile(f, t.opts.Path, 0)
		if err != nil {
			f.Close()
			return -1, err
		}
		t.log.Info("reading audit log", "path", t.opts.Path)
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
	size := t.reportLag(of)
	if of.fp.n < fingerprintMax && size > int64(of.fp.n) {
		of.fp = takeFingerprint(of.f, size)
	}

	// Rotation: the path names another file (or none) now.
	if pfi, err := os.Stat(t.opts.Path); err == nil {
		if dev, ino := devIno(pfi); dev == of.dev && ino == of.ino {
			of.goneSince = time.Time{}
			return -1, nil
		}
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
	return 0, t.moveOn(of)
}

// isTruncated reports whether the file shrank below what was read or its
// head no longer matches the fingerprint (truncated, then rewritten past the
// old size).
func (t *Tailer) isTruncated(of *openFile) (bool, error) {
	fi, err := of.f.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", of.name, err)
	}
	return fi.Size() < of.scan || !of.fp.matches(of.f), nil
}

// moveOn leaves a rotated file for the next one: a sibling rotated after it
// (when the tailer fell behind several rotations), else the live path.
func (t *Tailer) moveOn(old *openFile) error {
	oldFi, _ := old.f.Stat()
	var pathDev, pathIno uint64
	if pfi, err := os.Stat(t.opts.Path); err == nil {
		pathDev, pathIno = devIno(pfi)
	}
	var next *openFile
	for _, p := range siblings(t.opts.Path) {
		fi, err := os.Stat(p)
		if err != nil || oldFi == nil || !fi.ModTime().After(oldFi.ModTime()) {
			continue
		}
		dev, ino := devIno(fi)
		if dev == old.dev && ino == old.ino || dev == pathDev && ino == pathIno {
			continue
		}
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		of, err := t.newOpenFile(f, p, 0)
		if err != nil {
			f.Close()
			continue
		}
		t.log.Info("reading a rotated audit log file that was never read", "file", p)
		next = of
		break
	}
	t.closeCurrent()
	if next == nil {
		f, err := os.Open(t.opts.Path)
		if err != nil {
			t.log.Info("audit log is gone; waiting for it to appear", "path", t.opts.Path)
			return nil
		}
		of, err := t.newOpenFile(f, t.opts.Path, 0)
		if err != nil {
			f.Close()
			return err
		}
		next = of
	}
	t.cur = next
	return t.commit()
}

// truncated handles copytruncate: what was written before the truncation but
// after our position is read from the copy, then the file from its start.
func (t *Tailer) truncated(ctx context.Context, of *openFile) error {
	t.log.Info("audit log truncated (copytruncate?); reading it from the start", "file", of.name, "offset", of.off)
	if of.off > 0 && of.fp.n > 0 {
		if cf := t.findRotated(of.fp, of.off, 0, 0, of.ino); cf != nil {
			cf.gen = of.gen // the copy continues the same byte stream
			cf.off, cf.scan = of.off, of.off
			t.log.Info("reading the rest of the truncated log from its copy", "file", cf.name)
			err := t.drain(ctx, cf, true)
			cf.f.Close()
			if err != nil {
				return err
			}
		}
	}
	fi, err := of.f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", of.name, err)
	}
	t.gen++
	of.gen = t.gen
	of.off, of.scan, of.n, of.skipping, of.padding = 0, 0, 0, false, false
	of.fp = takeFingerprint(of.f, fi.Size())
	return t.commit()
}

// start fixes the start position from the checkpoint, or from start_at.
func (t *Tailer) start() error {
	cp, err := loadCheckpoint(t.opts.CheckpointPath)
	if err != nil {
		return err
	}
	f, openErr := os.Open(t.opts.Path)
	if cp == nil {
		t.gen = 0
		if openErr != nil {
			t.log.Info("audit log does not exist yet; waiting for it", "path", t.opts.Path)
			return nil // read from its first line when it appears
		}
		of, err := t.newOpenFile(f, t.opts.Path, 0)
		if err != nil {
			f.Close()
			return err
		}
		if t.opts.StartAtEnd {
			of.off = lastLineEnd(f)
			of.scan = of.off
		}
		t.cur = of
		return t.commit()
	}

	t.gen = cp.Gen
	fp := fingerprint{n: cp.FPLen, hash: cp.FPHash}
	if openErr == nil {
		fi, err := f.Stat()
		if err == nil {
			dev, ino := devIno(fi)
			if dev == cp.Dev && ino == cp.Ino && fi.Size() >= cp.Offset && fp.matches(f) {
				of := &openFile{f: f, name: t.opts.Path, dev: dev, ino: ino, fp: fp, gen: cp.Gen, off: cp.Offset, scan: cp.Offset}
				t.cur = of
				t.lastSaved = *cp
				return nil
			}
		}
		f.Close()
	}
	// The checkpointed file was rotated away (or truncated) while we were
	// stopped: its remainder is in a sibling with the same fingerprint.
	if cp.Offset > 0 || cp.FPLen > 0 {
		if of := t.findRotated(fp, cp.Offset, cp.Dev, cp.Ino, 0); of != nil {
			of.gen, of.off, of.scan = cp.Gen, cp.Offset, cp.Offset
			t.log.Info("resuming in a rotated audit log file", "file", of.name, "offset", cp.Offset)
			t.cur = of
			return t.commit()
		}
		t.log.Warn("the checkpointed audit log file is gone (rotated and compressed or deleted?); reading the current file from its start; lines after the checkpoint in the old file may be lost",
			"path", t.opts.Path, "checkpoint_offset", cp.Offset)
	}
	if openErr != nil {
		return nil
	}
	f, err = os.Open(t.opts.Path)
	if err != nil {
		return nil
	}
	of, err := t.newOpenFile(f, t.opts.Path, 0)
	if err != nil {
		f.Close()
		return err
	}
	t.cur = of
	return t.commit()
}

// findRotated finds a sibling whose head matches fp and that holds at least
// off bytes, preferring the one with the given device and inode.
func (t *Tailer) findRotated(fp fingerprint, off int64, dev, ino, excludeIno uint64) *openFile {
	var best *os.File
	var bestName string
	var bestSize int64
	bestExact := false
	for _, p := range siblings(t.opts.Path) {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		fi, err := f.Stat()
		if err != nil || fi.Size() < off || !fp.matches(f) {
			f.Close()
			continue
		}
		d, i := devIno(fi)
		if excludeIno != 0 && i == excludeIno {
			f.Close()
			continue
		}
		exact := dev != 0 && d == dev && i == ino
		if best == nil || exact && !bestExact || exact == bestExact && fi.Size() > bestSize {
			if best != nil {
				best.Close()
			}
			best, bestName, bestSize, bestExact = f, p, fi.Size(), exact
			continue
		}
		f.Close()
	}
	if best == nil {
		return nil
	}
	fi, err := best.Stat()
	if err != nil {
		best.Close()
		return nil
	}
	d, i := devIno(fi)
	return &openFile{f: best, name: bestName, dev: d, ino: i, fp: fp}
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
		gen: t.gen, off: off, scan: off,
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

// commit makes the handler durable, then records the position.
func (t *Tailer) commit() error { return t.commitAt(false) }

// commitFollowing is commit at the end of the log while following it. The
// handler is made durable at once (that is what hands new events to the
// senders), but while lines keep arriving the checkpoint of the same file
// is rewritten at most every CheckpointEvery; the poll tick writes a
// position left waiting. Skipping a write weakens no guarantee: the
// checkpoint only lags, never leads the spools, and a line read again after
// a crash is recognised downstream by its position.
func (t *Tailer) commitFollowing() error { return t.commitAt(true) }

func (t *Tailer) commitAt(following bool) error {
	t.uncommit = 0
	if t.opts.Heartbeat != nil {
		t.opts.Heartbeat()
	}
	ok, err := t.h.Commit()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if !ok || t.opts.CheckpointPath == "" || t.cur == nil {
		return nil
	}
	of := t.cur
	cp := Checkpoint{
		Version: 1, Path: of.name, Dev: of.dev, Ino: of.ino,
		FPLen: of.fp.n, FPHash: of.fp.hash, Position: of.pos(),
	}
	if cp == t.lastSaved {
		return nil
	}
	now := time.Now()
	if following && cp.Gen == t.lastSaved.Gen && cp.Dev == t.lastSaved.Dev && cp.Ino == t.lastSaved.Ino &&
		now.Sub(t.lastSaveTime) < t.opts.CheckpointEvery {
		return nil
	}
	if err := t.writeCheckpoint(cp, !following); err != nil {
		return err
	}
	t.lastSaved, t.lastSaveTime = cp, now
	return nil
}

// writeCheckpoint writes cp, waiting for the write unless it may lag.
// While following, the write happens off the read path (checkpointer).
func (t *Tailer) writeCheckpoint(cp Checkpoint, wait bool) error {
	if t.cps == nil {
		return t.checkpointWriter()(t.opts.CheckpointPath, cp)
	}
	if err := t.cps.save(cp); err != nil {
		return err
	}
	if wait {
		return t.cps.flush()
	}
	return nil
}

func (t *Tailer) checkpointWriter() func(string, Checkpoint) error {
	if t.saveCP != nil {
		return t.saveCP
	}
	return saveCheckpoint
}

// drain reads of from its position to the current end of the file, handing
// over every complete line. With final, a last line without a newline is
// complete too (the file will not grow any more).
func (t *Tailer) drain(ctx context.Context, of *openFile, final bool) error {
	max := t.opts.MaxLineBytes
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if of.skipping {
			m, err := of.f.ReadAt(t.buf, of.scan)
			if i := bytes.IndexByte(t.buf[:m], '\n'); i >= 0 {
				of.scan += int64(i + 1)
				of.off, of.skipping = of.scan, false
				t.h.Skip(event.KindOversized, of.pos())
				continue
			}
			of.scan += int64(m)
			t.uncommit += int64(m)
			if m == 0 || err == io.EOF {
				if final && of.scan > of.off {
					of.off, of.skipping = of.scan, false
					t.h.Skip(event.KindOversized, of.pos())
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", of.name, err)
			}
			continue
		}

		if of.n == len(t.buf) {
			if of.n > max {
				of.skipping, of.scan, of.n = true, of.off+int64(of.n), 0
				continue
			}
			grown := make([]byte, min(2*len(t.buf), max+1))
			copy(grown, t.buf[:of.n])
			t.buf = grown
		}
		m, err := of.f.ReadAt(t.buf[of.n:], of.off+int64(of.n))
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", of.name, err)
		}
		t.uncommit += int64(m)
		end := of.n + m
		start := 0
		for start < end {
			if t.buf[start] == 0 { // copytruncate's NUL padding: never an event
				s := start
				for s < end && t.buf[s] == 0 {
					s++
				}
				of.off += int64(s - start)
				start = s
				of.padding = true
				continue
			}
			i := bytes.IndexByte(t.buf[start:end], '\n')
			if i < 0 {
				break
			}
			line := t.buf[start : start+i]
			of.off += int64(i + 1)
			start += i + 1
			t.emit(of, line)
		}
		of.n = copy(t.buf, t.buf[start:end])
		if of.n == 0 {
			of.scan = of.off
		}
		if m == 0 {
			if final && of.n > 0 {
				line := t.buf[:of.n]
				of.off += int64(of.n)
				of.n = 0
				t.emit(of, line)
			}
			if final && of.padding {
				of.padding = false
				t.h.Skip(event.KindMalformed, of.pos())
			}
			of.scan = of.off
			of.n = 0 // a partial line is read again, whole, next time
			return nil
		}
		if t.uncommit >= t.opts.CommitBytes && t.cur == of {
			if err := t.commit(); err != nil {
				return err
			}
		}
	}
}

func (t *Tailer) emit(of *openFile, line []byte) {
	if of.padding {
		of.padding = false
		t.h.Skip(event.KindMalformed, of.pos())
	}
	if len(line) > t.opts.MaxLineBytes {
		t.h.Skip(event.KindOversized, of.pos())
		return
	}
	t.h.Line(line, of.pos())
}

// lastLineEnd is where start_at: end begins: after the last complete line,
// so a line being written right now is read whole.
func lastLineEnd(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	size := fi.Size()
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, _ := f.ReadAt(buf[:end-start], start)
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

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
