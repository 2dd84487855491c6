package tailer

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// A checkpoint write that takes long (a slow fsync on a busy disk) must not
// hold up the lines appended meanwhile: they reach the handler while the
// write is still in progress. Shutdown waits for it and leaves the last
// position on disk.
func TestSlowCheckpointWriteDoesNotHoldUpLines(t *testing.T) {
	dir := t.TempDir()
	path, cpPath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "checkpoint.json")
	appendFile(t, path, numbered(0, 1))

	rec := newRecorder()
	var hold atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	ready := make(chan struct{})
	tl := New(Options{
		Path: path, CheckpointPath: cpPath,
		PollInterval: 50 * time.Millisecond, CheckpointEvery: time.Millisecond,
		Ready: func() { close(ready) },
	}, rec)
	tl.saveCP = func(p string, cp Checkpoint) error {
		if hold.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return saveCheckpoint(p, cp)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	var freeOnce sync.Once
	free := func() { freeOnce.Do(func() { close(release) }) }
	t.Cleanup(func() { // also when the test fails with the write held
		free()
		cancel()
		<-done
	})
	<-ready
	rec.waitFor(t, "the first line", atLeast(1))

	hold.Store(true)
	appendFile(t, path, numbered(1, 2))
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no checkpoint write after a new line")
	}
	// The write is held. Lines appended now must still arrive.
	appendFile(t, path, numbered(2, 6))
	rec.waitFor(t, "lines appended during a held checkpoint write", atLeast(6))

	free()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the cleanup's wait
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := loadCheckpoint(cpPath)
	if err != nil || cp == nil || cp.Offset != fi.Size() {
		t.Fatalf("checkpoint after shutdown: %+v %v, want offset %d", cp, err, fi.Size())
	}
	checkSequence(t, rec.snapshot(), 6)
}

// syncHandler is a recorder whose Sync the test can hold or fail.
type syncHandler struct {
	*recorder
	hold    atomic.Bool
	fail    atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (h *syncHandler) Sync() error {
	if h.hold.Load() {
		select {
		case h.entered <- struct{}{}:
		default:
		}
		<-h.release
	}
	if h.fail.Load() {
		return syscall.EIO
	}
	return h.recorder.Sync()
}

// While the handler's Sync is held (the spools' fsync on a busy disk),
// lines appended meanwhile still reach the handler and are committed (the
// senders post them), and no checkpoint passes the lines that Sync has not
// covered. Shutdown waits for the Sync and leaves the last position.
func TestSlowSyncDoesNotHoldUpLinesNorLetTheCheckpointPassThem(t *testing.T) {
	dir := t.TempDir()
	path, cpPath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "checkpoint.json")
	appendFile(t, path, numbered(0, 1))
	h := &syncHandler{recorder: newRecorder(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	ready := make(chan struct{})
	tl := New(Options{Path: path, CheckpointPath: cpPath, PollInterval: 20 * time.Millisecond,
		CheckpointEvery: time.Millisecond, Ready: func() { close(ready) }}, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx) }()
	var freeOnce sync.Once
	free := func() { freeOnce.Do(func() { close(h.release) }) }
	t.Cleanup(func() {
		free()
		cancel()
		<-done
	})
	<-ready
	h.waitFor(t, "the first line", atLeast(1))
	size1 := fileSize(t, path)
	waitUntil(t, "the first checkpoint", func() bool {
		cp, _ := loadCheckpoint(cpPath)
		return cp != nil && cp.Offset == size1
	})

	h.hold.Store(true)
	appendFile(t, path, numbered(1, 2))
	select {
	case <-h.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no sync after a new line")
	}
	appendFile(t, path, numbered(2, 6))
	h.waitFor(t, "lines appended during a held sync", atLeast(6))
	waitUntil(t, "the lines committed", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.committed == 6
	})
	if cp, _ := loadCheckpoint(cpPath); cp == nil || cp.Offset != size1 {
		t.Fatalf("checkpoint %+v while the sync of the lines after offset %d is held", cp, size1)
	}

	free()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	cp, err := loadCheckpoint(cpPath)
	if err != nil || cp == nil || cp.Offset != fileSize(t, path) {
		t.Fatalf("checkpoint after shutdown: %+v %v, want offset %d", cp, err, fileSize(t, path))
	}
	checkSequence(t, h.snapshot(), 6)
}

// A Sync that fails off the read path rolls the handler back to the last
// durable position: the lines after it are read again and handed over
// again, every line reaches it once it can write, and the checkpoint never
// passed the lines whose sync failed.
func TestFailedSyncRollsBackToTheLastDurablePosition(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 3))
	sh := &syncHandler{recorder: newRecorder()}
	var writable writableState
	h.rec = sh.recorder
	tl := New(Options{Path: h.path, CheckpointPath: h.cp, PollInterval: 10 * time.Millisecond, CheckpointEvery: time.Millisecond,
		Writable: writable.report}, sh)
	h.runTailer(tl)
	sh.waitFor(t, "three lines", atLeast(3))
	size3 := fileSize(t, h.path)
	waitUntil(t, "the checkpoint after three lines", func() bool {
		cp, _ := loadCheckpoint(h.cp)
		return cp != nil && cp.Offset == size3
	})
	sh.fail.Store(true)
	appendFile(t, h.path, numbered(3, 6))
	waitUntil(t, "the fault reported", func() bool { return writable.Load() == failing })
	if cp, _ := loadCheckpoint(h.cp); cp == nil || cp.Offset != size3 {
		t.Fatalf("checkpoint %+v passed lines whose sync failed (durable up to %d)", cp, size3)
	}
	sh.mu.Lock()
	rollbacks := sh.rollbacks
	sh.mu.Unlock()
	if rollbacks == 0 {
		t.Fatal("no rollback after a failed sync")
	}
	sh.fail.Store(false)
	waitUntil(t, "writable again", func() bool { return writable.Load() == writableAgain })
	checkSequence(t, sh.waitFor(t, "every line once", atLeast(6)), 6)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
