package tailer

import (
	"fmt"
	"os"
	"time"
)

// start fixes the start position from the checkpoint, or from start_at. It
// never fails: a checkpoint it cannot use is reported and set aside, and a
// file it cannot open yet is opened by the run loop.
func (t *Tailer) start() {
	cp := t.restoreCheckpoint()
	f, openErr := os.Open(t.opts.Path)
	if cp == nil {
		// Numbering restarts after whatever the spools hold, so the lines
		// read from now on are never taken for ones already queued.
		if t.opts.HighWater != nil {
			t.gen = t.opts.HighWater().Gen
		}
		if openErr != nil {
			return // the run loop says so, and reads it from its first line when it appears
		}
		t.openAt(f, t.opts.StartAtEnd)
		return
	}

	t.gen = cp.Gen
	fp := fingerprint{n: cp.FPLen, hash: cp.FPHash}
	if openErr == nil {
		fi, err := f.Stat()
		if err == nil {
			dev, ino := devIno(fi)
			if dev == cp.Dev && ino == cp.Ino && fi.Size() >= cp.Offset && fp.matches(f) {
				t.cur = &openFile{f: f, name: t.opts.Path, dev: dev, ino: ino, fp: fp, gen: cp.Gen, off: cp.Offset, scan: cp.Offset, safe: cp.Offset}
				t.lastSaved = *cp
				return
			}
		}
		f.Close()
	}
	// The checkpointed file was rotated away (or truncated) while we were
	// stopped: its remainder is in a sibling with the same fingerprint.
	if cp.Offset > 0 || cp.FPLen > 0 {
		if of := t.findRotated(fp, cp.Offset, cp.Dev, cp.Ino, 0); of != nil {
			of.gen, of.off, of.scan, of.safe = cp.Gen, cp.Offset, cp.Offset, cp.Offset
			t.log.Info("resuming in a rotated audit log file", "file", of.name, "offset", cp.Offset)
			t.cur = of
			return
		}
		t.log.Warn("the checkpointed audit log file is gone (rotated and compressed or deleted?); reading the current file from its start; lines after the checkpoint in the old file may be lost",
			"path", t.opts.Path, "checkpoint_offset", cp.Offset)
	}
	if f, err := os.Open(t.opts.Path); err == nil {
		t.openAt(f, false)
	}
}

// openAt makes f the current file, at its start or after its last complete line.
func (t *Tailer) openAt(f *os.File, atEnd bool) {
	of, err := t.newOpenFile(f, t.opts.Path, 0)
	if err != nil {
		f.Close()
		t.log.Warn("cannot open audit log yet; retrying", "path", t.opts.Path, "err", err)
		return
	}
	if atEnd {
		of.off = lastLineEnd(f)
		of.scan, of.safe = of.off, of.off
	}
	t.cur = of
}

// restoreCheckpoint loads the checkpoint. One that cannot be read or makes
// no sense (a disk fault, a torn write by something else) is logged with
// what happens next and moved aside for investigation; the tailer then
// starts as on a first run.
func (t *Tailer) restoreCheckpoint() *Checkpoint {
	if t.opts.CheckpointPath == "" {
		return nil
	}
	cp, err := loadCheckpoint(t.opts.CheckpointPath)
	if err == nil {
		if cp == nil {
			t.log.Info("no checkpoint; starting as configured by audit_log.start_at", "checkpoint", t.opts.CheckpointPath, "start_at_end", t.opts.StartAtEnd)
		}
		return cp
	}
	aside := fmt.Sprintf("%s.corrupt-%d", t.opts.CheckpointPath, time.Now().Unix())
	if rerr := os.Rename(t.opts.CheckpointPath, aside); rerr != nil {
		aside = "(could not be moved aside: " + rerr.Error() + ")"
	}
	t.log.Error("checkpoint unusable; starting as configured by audit_log.start_at, numbering lines after those already queued",
		"checkpoint", t.opts.CheckpointPath, "err", err, "moved_to", aside, "start_at_end", t.opts.StartAtEnd)
	return nil
}
