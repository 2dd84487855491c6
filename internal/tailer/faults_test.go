package tailer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/logpos"
)

// A young file (head under 1 KiB) truncated and regrown past the old offset
// between two reads: extending the fingerprint must notice the old head is
// gone instead of hashing the new one.
func TestFingerprintExtensionNoticesTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if err := os.WriteFile(path, []byte(strings.Repeat("a", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fp := takeFingerprint(f, 500)
	grown := strings.Repeat("a", 500) + strings.Repeat("b", 480)
	if err := os.WriteFile(path, []byte(grown), 0o644); err != nil {
		t.Fatal(err)
	}
	if !fp.extend(f, int64(len(grown))) || fp.n != len(grown) {
		t.Fatalf("a growing head must extend the fingerprint: ok n=%d", fp.n)
	}
	// copytruncate (or a writer reopening with O_TRUNC), then 1,960 new bytes.
	if err := os.WriteFile(path, []byte(strings.Repeat("c", 1960)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := fp
	if fp.extend(f, 1960) {
		t.Fatal("extend accepted a file whose head was rewritten")
	}
	if fp != before {
		t.Fatal("a failed extend changed the fingerprint")
	}
}

// The race itself, repeated: a young file is read, then truncated and
// rewritten past its old size exactly in the window between the read and the
// fingerprint's extension (a hook makes the window certain instead of
// hoping a writer hits it). Every line of the new content must arrive.
func TestYoungFileTruncatedAndRegrownLosesNothing(t *testing.T) {
	var rewritten strings.Builder
	for i := 0; i < 178; i++ {
		rewritten.WriteString("new--" + string(rune('a'+i%26)) + "-" + pad6(i) + "\n")
	}
	for iter := 0; iter < 20; iter++ {
		h := newHarness(t)
		appendFile(t, h.path, numbered(0, 20)) // 240 bytes: the fingerprint covers 240
		h.rec = newRecorder()
		tl := New(Options{Path: h.path, CheckpointPath: h.cp, PollInterval: 5 * time.Millisecond}, h.rec)
		var fired atomic.Bool
		tl.afterCommit = func(of *openFile) {
			if of.off == 972 && !fired.Swap(true) {
				if err := os.WriteFile(h.path, []byte(rewritten.String()), 0o644); err != nil {
					t.Error(err)
				}
			}
		}
		h.runTailer(tl)
		h.rec.waitFor(t, "first lines", atLeast(20))
		appendFile(t, h.path, numbered(20, 81)) // to 972 bytes, still under the 1 KiB fingerprint
		lines := h.rec.waitFor(t, "the rewritten file's lines", func(l []string) bool {
			return countPrefix(l, "new--") >= 178
		})
		if !fired.Load() {
			t.Fatal("the rewrite never ran")
		}
		seen := map[string]bool{}
		for _, l := range lines {
			if strings.HasPrefix(l, "new--") {
				seen[l] = true
			}
		}
		if len(seen) != 178 {
			t.Fatalf("iteration %d: %d of 178 lines of the rewritten file arrived", iter, len(seen))
		}
		h.stop()
	}
}

func pad6(i int) string {
	s := "000000" + itoa(i)
	return s[len(s)-6:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func countPrefix(lines []string, p string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			n++
		}
	}
	return n
}

// A stat error other than "not found" on the log path is not a rotation:
// taking it for one would read the same file again from its start.
func TestStatErrorIsNotRotation(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 5))
	var failing atomic.Bool
	failing.Store(true)
	opts := Options{Path: h.path, CheckpointPath: h.cp, RotateWait: 20 * time.Millisecond, PollInterval: 10 * time.Millisecond}
	h.rec = newRecorder()
	tl := New(opts, h.rec)
	tl.stat = func(p string) (os.FileInfo, error) {
		if failing.Load() {
			return nil, &os.PathError{Op: "stat", Path: p, Err: syscall.EIO}
		}
		return os.Stat(p)
	}
	h.runTailer(tl)
	h.rec.waitFor(t, "five lines", atLeast(5))
	// Many RotateWaits pass while stat fails; lines keep coming.
	for i := 5; i < 10; i++ {
		appendFile(t, h.path, numbered(i, i+1))
		h.rec.waitFor(t, "next line", atLeast(i+1))
		time.Sleep(30 * time.Millisecond) // let RotateWait elapse: the failure must not count as a rotation
	}
	failing.Store(false)
	appendFile(t, h.path, numbered(10, 12))
	checkSequence(t, h.rec.waitFor(t, "all lines", atLeast(12)), 12)
}

// The last line of a renamed-away file, read by the final drain before any
// new file exists, is committed at once, not when the log reappears.
func TestFinalDrainAfterRenameCommitsWithoutNewFile(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 2)+"line-000002") // no newline: complete only once the file is final
	h.start(Options{RotateWait: 20 * time.Millisecond, PollInterval: 10 * time.Millisecond})
	h.rec.waitFor(t, "two lines", atLeast(2))
	if err := os.Rename(h.path, h.path+".1"); err != nil {
		t.Fatal(err)
	}
	h.rec.waitFor(t, "the trailing line", atLeast(3))
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.rec.mu.Lock()
		committed := h.rec.committed
		h.rec.mu.Unlock()
		if committed == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trailing line of the rotated file was not committed (committed %d lines)", committed)
		}
		time.Sleep(10 * time.Millisecond) // polling the recorder: nothing to wait on
	}
}

// While commits fail (state_dir full), the tailer stays up, rolls back, reads
// the same lines again later, and loses and repeats nothing once writes work.
func TestCommitFailureHoldsBackAndResumes(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 3))
	var full atomic.Bool
	var writable writableState
	h.rec = newRecorder()
	h.rec.fail = func() error {
		if full.Load() {
			return errors.New("no space left on device")
		}
		return nil
	}
	tl := New(Options{Path: h.path, CheckpointPath: h.cp, PollInterval: 10 * time.Millisecond,
		Writable: writable.report}, h.rec)
	h.runTailer(tl)
	h.rec.waitFor(t, "three lines", atLeast(3))
	full.Store(true)
	appendFile(t, h.path, numbered(3, 50))
	waitUntil(t, "the tailer reports the fault", func() bool { return writable.Load() == failing })
	waitUntil(t, "a rollback", func() bool {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		return h.rec.rollbacks > 0
	})
	appendFile(t, h.path, numbered(50, 60))
	full.Store(false)
	lines := h.rec.waitFor(t, "every line once writing works", atLeast(60))
	waitUntil(t, "writable again", func() bool { return writable.Load() == writableAgain })
	checkSequence(t, lines, 60)
	// The fault ended with the checkpoint written, not left for later.
	fi, err := os.Stat(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := loadCheckpoint(h.cp); err != nil || cp == nil || cp.Offset != fi.Size() {
		t.Fatalf("checkpoint %+v (%v) when writable again; the log holds %d bytes", cp, err, fi.Size())
	}
}

// A retry while commits fail reads one buffer of the backlog before it
// meets the fault again, not CommitBytes of it: a busy log wakes the tailer
// on every write, and each wake-up retries.
func TestRetryDuringAFaultReadsOneBuffer(t *testing.T) {
	h := newHarness(t)
	var full atomic.Bool
	full.Store(true)
	h.rec = newRecorder()
	h.rec.fail = func() error {
		if full.Load() {
			return errors.New("no space left on device")
		}
		return nil
	}
	tl := New(Options{Path: h.path, CheckpointPath: h.cp, PollInterval: 10 * time.Millisecond}, h.rec)
	line := strings.Repeat("x", 199) // 200 bytes with its newline
	var backlog strings.Builder
	const lines = 60_000 // 12 MB: three CommitBytes
	for range lines {
		backlog.WriteString(line + "\n")
	}
	appendFile(t, h.path, backlog.String())
	h.runTailer(tl)
	waitUntil(t, "four failed attempts", func() bool {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		return h.rec.rollbacks >= 4
	})
	h.rec.mu.Lock()
	dropped := append([]int(nil), h.rec.dropped...)
	h.rec.mu.Unlock()
	perBuffer := readBuffer/200 + 1
	for i, n := range dropped[1:] { // the first attempt did not know of the fault yet
		if n > perBuffer {
			t.Errorf("retry %d read %d lines (%d bytes) before failing again, want at most one buffer (%d lines)", i+1, n, n*200, perBuffer)
		}
	}
	full.Store(false)
	got := h.rec.waitFor(t, "every line once writing works", atLeast(lines))
	if len(got) != lines {
		t.Errorf("%d lines handed over, want %d", len(got), lines)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition of the test's own
	}
}

// An unusable checkpoint is set aside and the tailer starts after what is queued.
func TestCorruptCheckpointSetAsideAndNumberingAfterHighWater(t *testing.T) {
	for _, content := range []string{"", "\x00\x00\x00garbage", `{"version":1,"offset":-5}`} {
		h := newHarness(t)
		appendFile(t, h.path, numbered(0, 3))
		if err := os.WriteFile(h.cp, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		h.rec = newRecorder()
		tl := New(Options{Path: h.path, CheckpointPath: h.cp, HighWater: func() logpos.Position { return logpos.Position{Gen: 7, Offset: 1 << 40} }}, h.rec)
		h.runTailer(tl)
		h.rec.waitFor(t, "lines", atLeast(3))
		h.rec.mu.Lock()
		end := h.rec.ends[0]
		h.rec.mu.Unlock()
		if end.Gen != 8 {
			t.Errorf("checkpoint %q: first position %+v; want generation 8, after the high-water mark", content, end)
		}
		aside, _ := filepath.Glob(h.cp + ".corrupt-*")
		if len(aside) != 1 {
			t.Errorf("checkpoint %q: set aside as %v; want one .corrupt- file", content, aside)
		}
		h.stop()
	}
}

// A checkpoint write that fails off the read path (state_dir full) is
// noticed by the next commit: the tailer reports the fault, writes again
// waiting for each write, and reports recovery only once one succeeded.
func TestAsyncCheckpointFailureIsReportedAndRetried(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 2))
	var full atomic.Bool
	var writable writableState
	h.rec = newRecorder()
	tl := New(Options{Path: h.path, CheckpointPath: h.cp, PollInterval: 10 * time.Millisecond, CheckpointEvery: time.Millisecond,
		Writable: writable.report}, h.rec)
	tl.saveCP = func(p string, cp Checkpoint) error {
		if full.Load() {
			return syscall.ENOSPC
		}
		return saveCheckpoint(p, cp)
	}
	h.runTailer(tl)
	h.rec.waitFor(t, "two lines", atLeast(2))
	full.Store(true)
	for i := 2; i < 6; i++ {
		appendFile(t, h.path, numbered(i, i+1))
		h.rec.waitFor(t, "a line", atLeast(i+1))
	}
	waitUntil(t, "the fault reported", func() bool { return writable.Load() == failing })
	full.Store(false)
	appendFile(t, h.path, numbered(6, 8))
	waitUntil(t, "writable again", func() bool { return writable.Load() == writableAgain })
	checkSequence(t, h.rec.waitFor(t, "every line once", atLeast(8)), 8)
	fi, _ := os.Stat(h.path)
	waitUntil(t, "the checkpoint at the end of the log", func() bool {
		cp, err := loadCheckpoint(h.cp)
		return err == nil && cp != nil && cp.Offset == fi.Size()
	})
}

// writableState records what Options.Writable last reported: 0 nothing yet.
type writableState struct{ atomic.Int32 }

const (
	writableAgain = 1
	failing       = 2
)

func (w *writableState) report(ok bool) {
	if ok {
		w.Store(writableAgain)
	} else {
		w.Store(failing)
	}
}
