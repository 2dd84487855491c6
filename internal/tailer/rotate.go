package tailer

import (
	"context"
	"fmt"
	"os"
)

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
			return nil // the run loop says it is missing and waits for it
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
			// Durable before the position moves to the truncated file's start;
			// a failed commit finds the copy again next round.
			if err := t.commit(); err != nil {
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
	of.off, of.scan, of.safe, of.n, of.skipping, of.padding = 0, 0, 0, 0, false, false
	of.fp = takeFingerprint(of.f, fi.Size())
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
