package tailer

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
