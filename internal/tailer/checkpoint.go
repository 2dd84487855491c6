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

// commit makes the handler durable, then records the position.
func (t *Tailer) commit() error { return t.commitAt(false) }

// commitFollowing is commit while following the log (at its end, or every
// CommitBytes of a backlog). The handler hands the new events to the
// senders at once, and the syncer makes them durable off the read path;
// while lines keep arriving the checkpoint of the same file is rewritten at
// most every CheckpointEvery, and the poll tick writes a position left
// waiting. Lagging weakens no guarantee: the checkpoint never leads the
// spools, and a line read again after a crash is recognised downstream by
// its position.
func (t *Tailer) commitFollowing() error { return t.commitAt(true) }

// commitAt commits: the handler publishes, then the commit is made durable
// (the handler's Sync, then the checkpoint), by the syncer. Unless
// following (start, rotation, truncation, shutdown) and while the state
// directory fails, it waits for that, so that those positions are on disk
// before the tailer moves on and a fault ends only when a write really
// succeeded.
func (t *Tailer) commitAt(following bool) error {
	t.uncommit = 0
	if t.opts.Heartbeat != nil {
		t.opts.Heartbeat()
	}
	ok, err := t.h.Commit()
	if err != nil {
		return commitFailed(err)
	}
	if t.sy == nil {
		return t.commitNow(ok)
	}
	if err := t.sy.takeErr(); err != nil {
		// A sync or write off the read path failed: roll back to what is
		// durable, and write again, waiting.
		t.lastSaved, t.lastHanded = Checkpoint{}, Checkpoint{}
		return commitFailed(err)
	}
	wait := !following || t.fault != nil
	if t.cur == nil { // no log open: nothing new was handed over
		if wait {
			return t.flushSyncer()
		}
		return nil
	}
	if !ok {
		// No position to record (mid multi-line record): the events
		// handed on are made durable all the same.
		t.sy.save(syncJob{})
		if wait {
			return t.flushSyncer()
		}
		return nil
	}
	of := t.cur
	cp := of.checkpoint()
	now := time.Now()
	// A fault ends with a checkpoint written, not one left waiting: the
	// state directory is writable again only once all of it was written.
	write := cp != t.lastSaved && !(following && t.fault == nil && cp.Gen == t.lastSaved.Gen &&
		cp.Dev == t.lastSaved.Dev && cp.Ino == t.lastSaved.Ino && now.Sub(t.lastSaveTime) < t.opts.CheckpointEvery)
	if cp == t.lastHanded && !write && !wait {
		return nil // nothing new since the last job
	}
	t.sy.save(syncJob{cp: cp, write: write})
	t.lastHanded = cp
	if write {
		t.lastSaved, t.lastSaveTime = cp, now
	}
	if wait {
		if err := t.flushSyncer(); err != nil {
			return err
		}
		of.safe = of.off
	}
	return nil
}

// flushSyncer waits for the syncer's jobs.
func (t *Tailer) flushSyncer() error {
	if err := t.sy.flush(); err != nil {
		t.lastSaved, t.lastHanded = Checkpoint{}, Checkpoint{}
		return commitFailed(err)
	}
	return nil
}

// commitNow is commitAt without a syncer (Once, or no checkpoint): the
// handler's Sync and the checkpoint write happen here.
func (t *Tailer) commitNow(ok bool) error {
	if err := t.h.Sync(); err != nil {
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
	cp := of.checkpoint()
	if cp == t.lastSaved {
		return nil
	}
	if err := t.checkpointWriter()(t.opts.CheckpointPath, cp); err != nil {
		t.lastSaved = Checkpoint{}
		return commitFailed(err)
	}
	t.lastSaved, t.lastSaveTime = cp, time.Now()
	return nil
}

// checkpoint is the checkpoint of of's current position.
func (of *openFile) checkpoint() Checkpoint {
	return Checkpoint{
		Version: 1, Path: of.name, Dev: of.dev, Ino: of.ino,
		FPLen: of.fp.n, FPHash: of.fp.hash, Position: of.pos(),
	}
}

// durableOffset is where a rollback resumes in of: the position of the last
// commit made durable in it.
func (t *Tailer) durableOffset(of *openFile) int64 {
	if t.sy != nil {
		if d := t.sy.durablePos(); d.Gen == of.gen && d.Dev == of.dev && d.Ino == of.ino && d.Offset > of.safe {
			of.safe = d.Offset
		}
	}
	return of.safe
}

func (t *Tailer) checkpointWriter() func(string, Checkpoint) error {
	if t.saveCP != nil {
		return t.saveCP
	}
	return saveCheckpoint
}
