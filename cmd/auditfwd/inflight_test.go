package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// A sender posts a record as soon as it is written, before the fsync that
// makes it durable, and the spool's cursor is written after that. A kill -9
// in between repeats what was in flight, and loses nothing. The kill point
// is made exact with the test builds' hold (AUDITFWD_TEST_HOLD, see
// internal/spool/testhook_on.go) and swept: after 1, 2, 3 and 5 posts made
// while the spool's sync waits (posted, not durable, the checkpoint behind
// them), and after as many posts whose sync went through while the
// cursor's write waits (durable and checkpointed, the cursor behind). Each
// time: every event arrives, those posted before the kill at most twice,
// the others exactly once, and at most the messages posted while held are
// repeated.
func TestKill9AfterAPostBeforeTheSyncRepeatsOnlyInFlight(t *testing.T) {
	for _, point := range []string{"sync", "cursor"} {
		for _, posts := range []int{1, 2, 3, 5} {
			t.Run(fmt.Sprintf("%s/%d", point, posts), func(t *testing.T) {
				t.Parallel()
				killInFlight(t, point, posts)
			})
		}
	}
}

func killInFlight(t *testing.T, point string, posts int) {
	s := newSlack(t)
	hold := t.TempDir()
	d := newDaemon(t, s, testenv.Options{Env: []string{"AUDITFWD_TEST_HOLD=" + hold}, Channels: `
  - name: security
    slack_channel: "#security"
    actions: ["login.*"]
`})
	d.Start()
	// Event 0 is delivered and all of it on disk (checkpoint and cursor)
	// before the hold: it must never repeat.
	d.Append(testenv.Event("login.complete", 0))
	waitEvents(t, s, idSecurity, 0, 1, 30*time.Second)
	testenv.Eventually(t, 30*time.Second, "event 0 checkpointed and its delivery recorded", func() bool {
		return settled(t, d)
	})

	holdFile := filepath.Join(hold, point)
	if err := os.WriteFile(holdFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= posts; i++ {
		d.Append(testenv.Event("login.complete", i))
		waitEvents(t, s, idSecurity, i, i+1, 30*time.Second)
	}
	testenv.Eventually(t, 30*time.Second, "the daemon waiting at the "+point+" hold", func() bool {
		_, err := os.Stat(holdFile + ".waiting")
		return err == nil
	})
	before := len(texts(s, idSecurity))
	d.Kill()
	if point == "sync" {
		// Nothing after event 0 was made durable: the checkpoint stayed.
		if cp := checkpointOffset(t, d); cp != lineEnd(t, d.LogPath, 1) {
			t.Fatalf("checkpoint at %d after a kill during a held sync, want %d (after event 0)", cp, lineEnd(t, d.LogPath, 1))
		}
	}

	if err := os.Remove(holdFile); err != nil {
		t.Fatal(err)
	}
	os.Remove(holdFile + ".waiting")
	d.Start()
	const after = 3
	for i := posts + 1; i <= posts+after; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	total := posts + after + 1
	c := waitEvents(t, s, idSecurity, 0, total, 60*time.Second)
	for n := 0; n < total; n++ {
		switch {
		case n >= 1 && n <= posts:
			if c[n] > 2 {
				t.Errorf("event %d, in flight at the kill, arrived %d times", n, c[n])
			}
		case c[n] != 1:
			t.Errorf("event %d arrived %d times, want once (not in flight at the kill)", n, c[n])
		}
	}
	all := texts(s, idSecurity)
	seen := map[int]bool{}
	testenv.Repeats(seen, all[:before]) // what Slack had before the kill
	repeats := testenv.Repeats(seen, all[before:])
	if repeats > posts {
		t.Errorf("%d messages repeated after the kill; at most the %d posted while the %s waited were in flight", repeats, posts, point)
	}
	t.Logf("kill -9 with the %s held, posts made while held: %d; messages repeated: %d; times each event in flight arrived: %v",
		point, posts, repeats, counts(c, 1, posts))
}

// settled reports whether the log is checkpointed to its end and the
// security spool's cursor is saved at the end of its data.
func settled(t *testing.T, d *testenv.Daemon) bool {
	fi, err := os.Stat(d.LogPath)
	if err != nil || checkpointOffset(t, d) != fi.Size() {
		return false
	}
	dir := statedir.Dir(d.StateDir).Spool("security")
	seg, off, ok := spoolCursor(dir)
	if !ok {
		return false
	}
	sfi, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%016d.jsonl", seg)))
	return err == nil && sfi.Size() == off
}

// spoolCursor reads a spool's cursor file: two slots, each a JSON object
// with a sequence number; the higher one is in force.
func spoolCursor(dir string) (segment uint64, offset int64, ok bool) {
	data, err := os.ReadFile(filepath.Join(dir, "cursor"))
	if err != nil {
		return 0, 0, false
	}
	var best uint64
	for _, slot := range strings.Split(string(data), "\n") {
		var c struct {
			Segment uint64 `json:"segment"`
			Offset  int64  `json:"offset"`
			Seq     uint64 `json:"seq"`
		}
		if json.Unmarshal([]byte(strings.TrimSpace(slot)), &c) == nil && (!ok || c.Seq > best) {
			segment, offset, best, ok = c.Segment, c.Offset, c.Seq, true
		}
	}
	return segment, offset, ok
}

func checkpointOffset(t *testing.T, d *testenv.Daemon) int64 {
	data, err := os.ReadFile(filepath.Join(d.StateDir, "checkpoint.json"))
	if err != nil {
		return -1
	}
	var cp struct{ Offset int64 }
	if json.Unmarshal(data, &cp) != nil {
		return -1
	}
	return cp.Offset
}

// lineEnd is the offset after the first n lines of path.
func lineEnd(t *testing.T, path string, n int) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for range n {
		i := strings.IndexByte(string(data[off:]), '\n')
		if i < 0 {
			t.Fatalf("%s has fewer than %d lines", path, n)
		}
		off += int64(i) + 1
	}
	return off
}

func counts(c testenv.Count, from, to int) string {
	var out []string
	for n := from; n <= to; n++ {
		out = append(out, strconv.Itoa(c[n]))
	}
	return strings.Join(out, ",")
}
