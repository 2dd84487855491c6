package tailer

import (
	"os"
	"testing"
	"time"
)

// While lines keep arriving, each is handed over (and committed) at once,
// but the checkpoint is rewritten at most every CheckpointEvery; when the
// lines stop, the poll tick writes the last position.
func TestCheckpointWhileFollowingIsBatchedAndCatchesUp(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 1))
	h.start(Options{CheckpointEvery: 300 * time.Millisecond, PollInterval: 50 * time.Millisecond})
	h.rec.waitFor(t, "first line", atLeast(1))

	// Every rewrite renames a new file into place: count the inodes seen.
	stop, done := make(chan struct{}), make(chan int)
	go func() {
		writes, last := 0, uint64(0)
		for {
			select {
			case <-stop:
				done <- writes
				return
			default:
			}
			if fi, err := os.Stat(h.cp); err == nil {
				if _, ino := devIno(fi); ino != last {
					writes, last = writes+1, ino
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	const n = 60
	for i := 1; i < n; i++ {
		appendFile(t, h.path, numbered(i, i+1))
		h.rec.waitFor(t, "the new line", atLeast(i+1))
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if writes := <-done; writes > 10 {
		t.Errorf("checkpoint rewritten %d times for %d lines over about a second", writes, n-1)
	}
	h.rec.mu.Lock()
	commits := h.rec.commits
	h.rec.mu.Unlock()
	if commits < n-1 {
		t.Errorf("%d commits for %d lines: new lines must reach the handler's Commit at once", commits, n-1)
	}
	fi, _ := os.Stat(h.path)
	waitCheckpointOffset(t, h.cp, fi.Size())
	checkSequence(t, h.rec.snapshot(), n)
}
