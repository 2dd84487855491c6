package tailer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

type recorder struct {
	mu        sync.Mutex
	lines     []string
	ends      []logpos.Position
	skipped   map[event.Kind]int
	commits   int
	committed int          // len(lines) at the last successful commit
	synced    int          // committed at the last Sync: what a rollback keeps
	fail      func() error // when set and non-nil, Commit fails
	rollbacks int
	dropped   []int // lines each rollback dropped
	changed   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{skipped: map[event.Kind]int{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) Line(line []byte, end logpos.Position) {
	r.mu.Lock()
	r.lines = append(r.lines, string(line))
	r.ends = append(r.ends, end)
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) Skip(kind event.Kind, end logpos.Position) {
	r.mu.Lock()
	r.skipped[kind]++
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) Commit() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(); err != nil {
			return false, err
		}
	}
	r.commits++
	r.committed = len(r.lines)
	return true, nil
}

func (r *recorder) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.synced = r.committed
	return nil
}

func (r *recorder) Rollback() {
	r.mu.Lock()
	r.rollbacks++
	r.dropped = append(r.dropped, len(r.lines)-r.synced)
	r.lines, r.ends = r.lines[:r.synced], r.ends[:r.synced]
	r.committed = r.synced
	r.mu.Unlock()
}

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// waitFor polls cond until it holds or the deadline passes.
func (r *recorder) waitFor(t *testing.T, what string, cond func(lines []string) bool) []string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		lines := r.snapshot()
		if cond(lines) {
			return lines
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s; have %d lines: %.300q", what, len(lines), lines)
		}
	}
}

func atLeast(n int) func([]string) bool { return func(l []string) bool { return len(l) >= n } }

type harness struct {
	t      *testing.T
	dir    string
	path   string
	cp     string
	rec    *recorder
	cancel context.CancelFunc
	done   chan error
	ready  chan struct{}
}

func newHarness(t *testing.T) *harness {
	dir := t.TempDir()
	return &harness{t: t, dir: dir, path: filepath.Join(dir, "audit.log"), cp: filepath.Join(dir, "checkpoint.json")}
}

func (h *harness) start(opts Options) {
	h.t.Helper()
	h.rec = newRecorder()
	opts.Path = h.path
	opts.CheckpointPath = h.cp
	if opts.RotateWait == 0 {
		opts.RotateWait = 300 * time.Millisecond
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	h.runTailer(New(opts, h.rec))
}

// runTailer runs tl (built on h.rec) and waits until it is ready.
func (h *harness) runTailer(tl *Tailer) {
	h.t.Helper()
	h.ready = make(chan struct{})
	ready := tl.opts.Ready
	tl.opts.Ready = func() {
		if ready != nil {
			ready()
		}
		close(h.ready)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan error, 1)
	go func() { h.done <- tl.Run(ctx) }()
	select {
	case <-h.ready:
	case err := <-h.done:
		h.t.Fatalf("tailer stopped before ready: %v", err)
	case <-time.After(10 * time.Second):
		h.t.Fatal("tailer not ready")
	}
	h.t.Cleanup(func() { h.stop() })
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Errorf("tailer: %v", err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func numbered(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line-%06d\n", i)
	}
	return b.String()
}

// checkSequence asserts lines are exactly line-000000..line-(n-1), in order.
func checkSequence(t *testing.T, lines []string, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	missing, dups := 0, 0
	for i := 0; i < n; i++ {
		c := seen[fmt.Sprintf("line-%06d", i)]
		if c == 0 {
			missing++
		}
		if c > 1 {
			dups += c - 1
		}
	}
	if missing != 0 || dups != 0 || len(lines) != n {
		t.Fatalf("missing %d, duplicates %d, got %d lines want %d", missing, dups, len(lines), n)
	}
	for i, l := range lines {
		if l != fmt.Sprintf("line-%06d", i) {
			t.Fatalf("line %d is %q: out of order", i, l)
		}
	}
}

func TestStartAtBeginningAndFollow(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 100))
	h.start(Options{})
	h.rec.waitFor(t, "backlog", atLeast(100))
	appendFile(t, h.path, numbered(100, 150))
	checkSequence(t, h.rec.waitFor(t, "live lines", atLeast(150)), 150)
}

func TestStartAtEndSkipsExistingButNotPartialLine(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 10)+"par")
	h.start(Options{StartAtEnd: true})
	appendFile(t, h.path, "tial\n"+numbered(10, 12))
	lines := h.rec.waitFor(t, "lines after start", atLeast(3))
	if lines[0] != "partial" || lines[1] != "line-000010" || len(lines) != 3 {
		t.Fatalf("got %q", lines)
	}
}

func TestPartialLineCompletedAcrossRestart(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 5)+"line-0000")
	h.start(Options{})
	h.rec.waitFor(t, "complete lines", atLeast(5))
	h.stop()
	appendFile(t, h.path, "05\n"+numbered(6, 8))
	h.start(Options{})
	lines := h.rec.waitFor(t, "rest", atLeast(3))
	if strings.Join(lines, ",") != "line-000005,line-000006,line-000007" {
		t.Fatalf("got %q", lines)
	}
}

func TestRestartFromCheckpointNoDuplicates(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 1000))
	h.start(Options{})
	first := h.rec.waitFor(t, "first run", atLeast(1000))
	h.stop()
	appendFile(t, h.path, numbered(1000, 1500))
	h.start(Options{StartAtEnd: true}) // start_at must not apply once a checkpoint exists
	second := h.rec.waitFor(t, "second run", atLeast(500))
	checkSequence(t, append(first, second...), 1500)
}

func TestFileNotThereYet(t *testing.T) {
	h := newHarness(t)
	h.start(Options{StartAtEnd: true})
	appendFile(t, h.path, numbered(0, 20)) // a file that appears later is read from its first line
	checkSequence(t, h.rec.waitFor(t, "lines", atLeast(20)), 20)
}

// TestRenameRotationDrainsOldFileFirst writes to the old file after the
// rename (a writer that has not reopened yet) and to the new file at once.
func TestRenameRotationDrainsOldFileFirst(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 10))
	h.start(Options{})
	h.rec.waitFor(t, "first lines", atLeast(10))
	old, err := os.OpenFile(h.path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(h.path, h.path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, h.path, numbered(20, 30)) // new file first on disk...
	old.WriteString(numbered(10, 20))       // ...but the old one still gets lines
	old.Close()
	checkSequence(t, h.rec.waitFor(t, "all lines", atLeast(30)), 30)
}

func TestRepeatedRotationsWhileWriting(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, "")
	h.start(Options{RotateWait: 100 * time.Millisecond})
	const perFile, files = 200, 5
	n := 0
	for r := 0; r <= files; r++ {
		f, err := os.OpenFile(h.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perFile; i++ {
			fmt.Fprintf(f, "line-%06d\n", n)
			n++
			if i%20 == 0 {
				time.Sleep(2 * time.Millisecond) // pace the writer like a live gateway
			}
			if i == perFile/2 && r < files {
				// rotate, and keep writing to the renamed file until this round ends
				if err := os.Rename(h.path, fmt.Sprintf("%s.%d", h.path, r)); err != nil {
					t.Fatal(err)
				}
			}
		}
		f.Close()
	}
	checkSequence(t, h.rec.waitFor(t, "all lines", atLeast(n)), n)
}

func TestDeleteAndRecreate(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 10))
	h.start(Options{})
	h.rec.waitFor(t, "first", atLeast(10))
	os.Remove(h.path)
	appendFile(t, h.path, numbered(10, 20))
	checkSequence(t, h.rec.waitFor(t, "recreated", atLeast(20)), 20)
}

func copyTruncate(t *testing.T, path, to string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

func TestCopyTruncateRegrownPastOldOffset(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 10))
	h.start(Options{})
	h.rec.waitFor(t, "first", atLeast(10))
	h.stop() // hold reading so the copy carries lines we have not read
	appendFile(t, h.path, numbered(10, 15))
	copyTruncate(t, h.path, h.path+".1")
	appendFile(t, h.path, numbered(15, 60)) // regrows past the old offset
	first := h.rec.snapshot()
	h.start(Options{})
	second := h.rec.waitFor(t, "all", atLeast(50))
	checkSequence(t, append(first, second...), 60)
}

func TestCopyTruncateLive(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 10))
	h.start(Options{})
	h.rec.waitFor(t, "first", atLeast(10))
	waitCheckpointOffset(t, h.cp, 120)
	copyTruncate(t, h.path, h.path+".1")
	waitCheckpointOffset(t, h.cp, 0)         // the writer's next line comes after the truncation was seen
	appendFile(t, h.path, numbered(10, 200)) // longer than before: size alone cannot tell
	checkSequence(t, h.rec.waitFor(t, "after truncate", atLeast(200)), 200)
}

func waitCheckpointOffset(t *testing.T, path string, off int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := loadCheckpoint(path)
		if err == nil && cp != nil && cp.Offset == off {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint never reached offset %d: %+v %v", off, cp, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a file: there is nothing to wait on
	}
}

// A writer without O_APPEND after copytruncate leaves NULs up to its old
// offset, then its next line: one physical line, handed over (and so counted)
// once, without the padding. Padding with no line after it is one malformed line.
func TestNULPaddingIsNotAnEvent(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, strings.Repeat("\x00", 5000)+numbered(0, 3))
	h.start(Options{})
	checkSequence(t, h.rec.waitFor(t, "lines after padding", atLeast(3)), 3)
	appendFile(t, h.path, strings.Repeat("\x00", 100)+"\n")
	h.rec.waitFor(t, "the padding-only line", func(lines []string) bool { return len(lines) >= 4 })
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if n := h.rec.skipped[event.KindMalformed]; n != 0 {
		t.Fatalf("padding reported as %d extra lines; want each physical line once", n)
	}
	if len(h.rec.lines) != 4 || h.rec.lines[3] != "" {
		t.Fatalf("lines = %q, want 3 numbered lines and one empty (padding-only) line", h.rec.lines)
	}
}

func TestNULPaddingAtEndOfRotatedFileCountedOnce(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 2)+strings.Repeat("\x00", 300))
	h.start(Options{RotateWait: 10 * time.Millisecond})
	h.rec.waitFor(t, "two lines", atLeast(2))
	if err := os.Rename(h.path, h.path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, h.path, numbered(2, 3))
	checkSequence(t, h.rec.waitFor(t, "line after rotation", atLeast(3)), 3)
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if n := h.rec.skipped[event.KindMalformed]; n != 1 {
		t.Fatalf("trailing padding counted %d times, want 1", n)
	}
}

func TestOversizedLineSkippedWithoutHoldingIt(t *testing.T) {
	h := newHarness(t)
	f, err := os.Create(h.path)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(numbered(0, 1))
	chunk := strings.Repeat("x", 1<<20)
	for i := 0; i < 20; i++ {
		f.WriteString(chunk)
	}
	f.WriteString("\n" + numbered(1, 2))
	f.Close()
	h.start(Options{MaxLineBytes: 64 << 10})
	checkSequence(t, h.rec.waitFor(t, "lines around the long one", atLeast(2)), 2)
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if h.rec.skipped[event.KindOversized] != 1 {
		t.Fatalf("oversized = %d, want 1", h.rec.skipped[event.KindOversized])
	}
}

func TestRotatedWhileStoppedReadsRemainderFromSibling(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 10))
	h.start(Options{})
	h.rec.waitFor(t, "first", atLeast(10))
	h.stop()
	appendFile(t, h.path, numbered(10, 20))
	os.Rename(h.path, h.path+"-20261123")
	appendFile(t, h.path, numbered(20, 30))
	first := h.rec.snapshot()
	h.start(Options{})
	second := h.rec.waitFor(t, "remainder and new", atLeast(20))
	checkSequence(t, append(first, second...), 30)
}

func TestCheckpointWrittenAtomicallyWithIdentity(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 3))
	h.start(Options{})
	h.rec.waitFor(t, "lines", atLeast(3))
	h.stop()
	cp, err := loadCheckpoint(h.cp)
	if err != nil || cp == nil {
		t.Fatalf("checkpoint: %v", err)
	}
	fi, _ := os.Stat(h.path)
	dev, ino := devIno(fi)
	if cp.Dev != dev || cp.Ino != ino || cp.Offset != fi.Size() || cp.FPLen != int(fi.Size()) {
		t.Fatalf("checkpoint %+v does not describe the file (size %d)", cp, fi.Size())
	}
	if st, _ := os.Stat(h.cp); st.Mode().Perm() != 0o600 {
		t.Fatalf("checkpoint mode %v", st.Mode().Perm())
	}
}

func TestOnceReadsWholeFile(t *testing.T) {
	h := newHarness(t)
	appendFile(t, h.path, numbered(0, 5)+"line-000005") // last line without newline
	rec := newRecorder()
	if err := New(Options{Path: h.path, Once: true}, rec).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkSequence(t, rec.snapshot(), 6)
	if _, err := os.Stat(h.cp); !os.IsNotExist(err) {
		t.Fatal("once mode wrote a checkpoint")
	}
}

// The read buffer is large only while a backlog is read: it grows when a
// read fills it and shrinks at the first call that finds nothing new, and
// every line is handed over once across the changes.
func TestReadBufferLargeOnlyDuringBacklog(t *testing.T) {
	h := newHarness(t)
	const first = 40_000 // 12 bytes a line: 480 KB, more than one readBuffer
	appendFile(t, h.path, numbered(0, first))
	rec := newRecorder()
	tl := New(Options{Path: h.path}, rec)
	if len(tl.buf) != idleBuffer {
		t.Fatalf("buffer at start %d bytes, want %d", len(tl.buf), idleBuffer)
	}
	f, err := os.Open(h.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	of, err := tl.newOpenFile(f, h.path, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		what    string
		appendN int // lines appended before the drain
		want    int // buffer size after it
	}{
		{"the backlog", 0, readBuffer},
		{"nothing new", 0, idleBuffer},
		{"a few events", 10, idleBuffer},
		{"a second backlog", 40_000, readBuffer},
		{"a few events after it", 10, readBuffer}, // something was read: not idle yet
		{"nothing new again", 0, idleBuffer},
	}
	total := first
	for _, s := range steps {
		appendFile(t, h.path, numbered(total, total+s.appendN))
		total += s.appendN
		if err := tl.drain(ctx, of, false); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
		if len(tl.buf) != s.want {
			t.Errorf("after %s: buffer %d bytes, want %d", s.what, len(tl.buf), s.want)
		}
	}
	checkSequence(t, rec.snapshot(), total)
}
