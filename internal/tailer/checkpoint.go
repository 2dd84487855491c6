package tailer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Checkpoint is the durable progress of the tailer: which file (by identity,
// not by name) and the offset after the last line that was fully handled.
type Checkpoint struct {
	Version int    `json:"version"`
	Path    string `json:"path"` // name the file had when last read; informational
	Dev     uint64 `json:"dev"`
	Ino     uint64 `json:"ino"`
	FPLen   int    `json:"fp_len"`  // bytes of the file's head hashed
	FPHash  uint64 `json:"fp_hash"` // FNV-1a of those bytes
	logpos.Position
}

func loadCheckpoint(path string) (*Checkpoint, error) {
	data, err := fsutil.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	var cp Checkpoint
	if len(data) == 0 {
		return nil, fmt.Errorf("read checkpoint %s: empty file", path)
	}
	if err := json.Unmarshal(data, &cp); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("read checkpoint %s: unknown version %d", path, cp.Version)
	}
	if cp.Offset < 0 || cp.FPLen < 0 || cp.FPLen > fingerprintMax {
		return nil, fmt.Errorf("read checkpoint %s: impossible values (offset %d, fingerprint %d bytes)", path, cp.Offset, cp.FPLen)
	}
	return &cp, nil
}

func saveCheckpoint(path string, cp Checkpoint) error {
	cp.Version = 1
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := fsutil.WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
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
		return commitFailed(err)
	}
	if !ok || t.cur == nil {
		return nil
	}
	of := t.cur
	of.safe = of.off
	if t.opts.CheckpointPath == "" {
		return nil
	}
	if t.cps != nil {
		if err := t.cps.takeErr(); err != nil {
			// A write off the read path failed: write it again, waiting.
			t.lastSaved = Checkpoint{}
			return commitFailed(err)
		}
	}
	cp := Checkpoint{
		Version: 1, Path: of.name, Dev: of.dev, Ino: of.ino,
		FPLen: of.fp.n, FPHash: of.fp.hash, Position: of.pos(),
	}
	if cp == t.lastSaved {
		return nil
	}
	now := time.Now()
	// A fault ends with a checkpoint written, not one left waiting: the
	// state directory is writable again only once all of it was written.
	if following && t.fault == nil && cp.Gen == t.lastSaved.Gen && cp.Dev == t.lastSaved.Dev && cp.Ino == t.lastSaved.Ino &&
		now.Sub(t.lastSaveTime) < t.opts.CheckpointEvery {
		return nil
	}
	// While following, the write happens off the read path; while writes
	// fail, every commit waits for its write, so that the fault ends only
	// when one really succeeded.
	if err := t.writeCheckpoint(cp, !following || t.fault != nil); err != nil {
		t.lastSaved = Checkpoint{}
		return commitFailed(err)
	}
	t.lastSaved, t.lastSaveTime = cp, now
	return nil
}

// writeCheckpoint writes cp, waiting for the write unless it may lag.
func (t *Tailer) writeCheckpoint(cp Checkpoint, wait bool) error {
	if t.cps == nil {
		return t.checkpointWriter()(t.opts.CheckpointPath, cp)
	}
	t.cps.save(cp)
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
