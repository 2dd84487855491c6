package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// The bytes left free for the spool when the disk fills are swept over every
// size from 0 to three records' lengths: the append that meets the full
// disk is cut short at every byte of a record, and with one, two or three
// whole records before it in the same batch. Slack fails all along, so the
// spool only grows. Once space and Slack are back, every event arrives
// exactly once and no record was ever taken for a corrupt one.
//
// How a size is set up, on a tmpfs the test mounts for the channel's spool
// directory (tmpfs hands out 4 KiB pages; once none is free a file can
// still grow to the end of its last page): the disk is filled (a filler
// file of whole pages), the filler gives back just enough pages for a
// padding event whose record ends k bytes before a page's end, and the
// padding event is appended and spooled. No page is free then. The rest of
// state_dir (the checkpoint) is on another file system: when the tailer
// writes its checkpoint depends on the machine's speed, and one that met
// the full disk before the events did would hold the tailer back before
// the append this test is about (the checkpoint's own faults are swept in
// statefaults_test.go). Then a few events are appended in one write: the tailer hands them
// over in one batch, the spool append that meets the page's end is cut
// short after k mod L bytes (L: one record), and the spool must be cut back
// to its last whole record at once. The filler is then removed; the daemon
// resumes by itself and spools them.
//
// The sizes are shared among several daemons, each on its own tmpfs, run
// in parallel.
func TestFullDiskAtEveryByteLosesNothing(t *testing.T) {
	if os.Getpagesize() != pageSize {
		t.Fatalf("the sweep assumes %d-byte pages; this machine has %d", pageSize, os.Getpagesize())
	}
	const daemons = 4
	var (
		mu    sync.Mutex
		swept = map[int]bool{}
		maxK  int
	)
	for i := range daemons {
		t.Run(fmt.Sprintf("daemon%d", i), func(t *testing.T) {
			t.Parallel()
			sizes, l := newDiskSweep(t).run(i, daemons)
			mu.Lock()
			defer mu.Unlock()
			maxK = 3 * l
			for _, k := range sizes {
				swept[k] = true
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		for k := 0; k <= maxK; k++ {
			if !swept[k] {
				t.Errorf("size %d was not swept", k)
			}
		}
		t.Logf("swept every size from 0 to %d bytes (3 records of %d bytes) in %d daemons", maxK, maxK/3, daemons)
	})
}

const pageSize = 4096

// diskSweep is one daemon of the sweep and what the test knows about its
// spool: the segment's size and the length of a record around a line.
type diskSweep struct {
	t        *testing.T
	s        *fakeslack.Server
	d        *testenv.Daemon
	seg      string // the security channel's spool segment
	filler   string
	overhead int // a record's length minus its event line's
	next     int // next event number
	size     int64
}

func newDiskSweep(t *testing.T) *diskSweep {
	s := newSlack(t)
	s.SetMode(fakeslack.ModeError500)
	d := newDaemon(t, s, testenv.Options{StartAt: "end", Channels: `  - name: security
    slack_channel: "#security"
    actions: [login.complete]
`})
	spoolDir := statedir.Dir(d.StateDir).Spool("security")
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", spoolDir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the spool (the tests run as root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", spoolDir).Run() })
	// Log offsets keep seven digits throughout, so that a record is its
	// line's length plus a constant.
	if err := os.WriteFile(d.LogPath, []byte(strings.Repeat("x", 999_999)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return &diskSweep{
		t: t, s: s, d: d, next: 1,
		seg:    filepath.Join(spoolDir, fmt.Sprintf("%016d.jsonl", 1)),
		filler: filepath.Join(spoolDir, "filler"), // not a segment's name: the spool passes it by
	}
}

// eventLine is event n, of a fixed length; pad >= 9 bytes longer when pad > 0.
func eventLine(n, pad int) string {
	extra := ""
	if pad > 0 {
		extra = fmt.Sprintf(`"pad":"%s",`, strings.Repeat("p", pad-9))
	}
	return fmt.Sprintf(`{"action":"login.complete",%s"resource":"%s","ts":"2026-03-20T01:12:44Z"}`, extra, testenv.Marker(n))
}

// line is the next event.
func (w *diskSweep) line(pad int) string {
	w.next++
	return eventLine(w.next-1, pad)
}

// run sweeps the sizes k ≡ first (mod every) up to three records' lengths
// and checks delivery; it returns the sizes swept and a record's length.
func (w *diskSweep) run(first, every int) ([]int, int) {
	t, d := w.t, w.d
	d.Start()
	calibration := w.line(0)
	d.Append(calibration)
	w.waitQuiet()
	w.overhead = int(w.size) - len(calibration)
	recLen := len(calibration) + w.overhead

	var sizes []int
	for k := first; k <= 3*recLen; k += every {
		w.sweep(k, recLen)
		sizes = append(sizes, k)
	}

	s := w.s
	s.SetMode(fakeslack.ModeOK)
	waitEvents(t, s, idSecurity, 1, w.next, 90*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, w.next)
	d.WaitMetric(float64(w.next-1), "auditfwd_events_routed_total", "channel=security")
	if out := d.Output(); strings.Contains(out, "corrupt record") {
		t.Errorf("a record was taken for a corrupt one")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(w.seg), "corrupt-records")); err == nil {
		t.Errorf("the spool kept a corrupt record")
	}
	return sizes, recLen
}

// sweep runs one size: k bytes are left free for the spool when the events
// arrive.
func (w *diskSweep) sweep(k, recLen int) {
	t, d := w.t, w.d
	t.Helper()
	// The padding record ends k bytes before the end of a page, and takes
	// every free page there is.
	slack := (pageSize - w.size%pageSize) % pageSize
	freePages := int64(0)
	for slack+freePages*pageSize-int64(k) < int64(recLen+9) {
		freePages++
	}
	padRec := slack + freePages*pageSize - int64(k)
	fillPages(t, w.filler, freePages)
	d.Append(w.line(int(padRec) - w.overhead - len(eventLine(0, 0))))
	// Published, not only written: the events must not join its batch.
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("size %d: the padding event queued", k), func() bool {
		v, _ := d.Metric("auditfwd_queue_events", "channel=security")
		return int(v) == w.next-1
	})
	w.size += padRec
	if got := w.segSize(); got != w.size {
		t.Fatalf("size %d: the padding event took %d bytes, want %d", k, got-w.size+padRec, padRec)
	}

	// The events meet the full disk: the first k/L fit, the next is cut short.
	before := strings.Count(d.Output(), "queue event for security")
	events := k/recLen + 2
	var lines []string
	for range events {
		lines = append(lines, w.line(0))
	}
	d.Append(lines...)
	testenv.Eventually(t, 20*time.Second, fmt.Sprintf("size %d: an append that met the full disk", k), func() bool {
		return strings.Count(d.Output(), "queue event for security") > before
	})
	// The tailer keeps trying (each try is cut short again and cut back):
	// between tries the segment ends at its last whole record.
	w.waitSize(w.size, fmt.Sprintf("size %d: the segment cut back to its last whole record (%d bytes) after the failed append", k, w.size))

	// Space is back: the daemon resumes by itself.
	if err := os.Truncate(w.filler, 0); err != nil {
		t.Fatal(err)
	}
	d.Append("{}") // not an event: wakes the tailer rather than waiting for its next look
	want := w.size + int64(events*recLen)
	w.waitQuiet()
	if w.size != want {
		t.Fatalf("size %d: the segment holds %d bytes once resumed, want %d", k, w.size, want)
	}
}

// waitQuiet waits until the checkpoint covers the whole log: every line is
// spooled and synced.
func (w *diskSweep) waitQuiet() {
	t := w.t
	t.Helper()
	fi, err := os.Stat(w.d.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the checkpoint at the log's end", func() bool {
		data, err := os.ReadFile(statedir.Dir(w.d.StateDir).Checkpoint())
		var cp struct{ Offset int64 }
		return err == nil && json.Unmarshal(data, &cp) == nil && cp.Offset == fi.Size()
	})
	w.size = w.segSize()
}

func (w *diskSweep) waitSize(want int64, what string) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for w.segSize() != want {
		if time.Now().After(deadline) {
			var st syscall.Statfs_t
			syscall.Statfs(filepath.Dir(w.seg), &st)
			data, _ := os.ReadFile(w.seg)
			tail := data[max(0, len(data)-400):]
			w.t.Fatalf("timed out waiting for %s: the segment holds %d bytes, want %d; %d blocks free; its tail: %q", what, w.segSize(), want, st.Bfree, tail)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *diskSweep) segSize() int64 {
	fi, err := os.Stat(w.seg)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// fillPages writes path in whole pages until the file system is full, then
// frees n of them.
func fillPages(t *testing.T, path string, n int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for _, size := range []int{len(buf), pageSize} {
		for {
			if _, err := f.Write(buf[:size]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size()%pageSize != 0 || fi.Size() < n*pageSize {
		t.Fatalf("filler of %d bytes: not whole pages, or fewer than %d", fi.Size(), n)
	}
	if err := f.Truncate(fi.Size() - n*pageSize); err != nil {
		t.Fatal(err)
	}
}
