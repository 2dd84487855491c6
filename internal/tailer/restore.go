package tailer

import (
	"os"
)

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
