package tailer

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncWriter is a log destination the test reads while the tailer writes.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (w *syncWriter) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.b.String(), s)
}

// A log that does not exist (a misspelt path, a directory that is not
// there) is reported at once and again every MissingWarnEvery, and reported
// absent; once it appears it is read from its first line and reported
// present.
func TestMissingLogIsReportedUntilItAppears(t *testing.T) {
	h := newHarness(t)
	h.path = filepath.Join(h.dir, "gateway", "audit.log")
	var logs syncWriter
	var present atomic.Int32 // 0 unknown, 1 absent, 2 present
	h.rec = newRecorder()
	tl := New(Options{Path: h.path, CheckpointPath: h.cp, PollInterval: 10 * time.Millisecond,
		StartAtEnd: true, MissingWarnEvery: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Present: func(ok bool) {
			present.Store(map[bool]int32{false: 1, true: 2}[ok])
		}}, h.rec)
	h.runTailer(tl)
	const noDir = "audit log does not exist, nor does its directory"
	waitUntil(t, "the warning at start", func() bool { return logs.count(noDir) >= 1 })
	if present.Load() != 1 {
		t.Fatalf("present reported %d while the log is missing", present.Load())
	}
	start := time.Now()
	waitUntil(t, "the warning repeated twice", func() bool { return logs.count(noDir) >= 3 })
	if took := time.Since(start); took < 150*time.Millisecond {
		t.Errorf("the warning repeated twice within %v: it must wait MissingWarnEvery (100ms) between", took)
	}

	if err := os.Mkdir(filepath.Dir(h.path), 0o755); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the warning without the directory part", func() bool {
		return logs.count("audit log does not exist; waiting for it (is audit_log.path right?)") >= 1
	})
	appendFile(t, h.path, numbered(0, 5))
	lines := h.rec.waitFor(t, "the lines of the log that appeared", atLeast(5))
	checkSequence(t, lines, 5) // from its first line, whatever start_at says
	waitUntil(t, "present", func() bool { return present.Load() == 2 })
	if logs.count("audit log found; reading it") != 1 {
		t.Errorf("the log's arrival was not reported:\n%s", logs.String())
	}
	warnings := logs.count("does not exist")
	appendFile(t, h.path, numbered(5, 10))
	checkSequence(t, h.rec.waitFor(t, "more lines", atLeast(10)), 10)
	if logs.count("does not exist") != warnings {
		t.Error("warned about a missing log while it is there")
	}
}
