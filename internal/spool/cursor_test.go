package spool

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func peekAck(t *testing.T, q *Queue, k int) []int {
	t.Helper()
	recs := peek(t, q, k, 1<<20)
	var got []int
	for _, r := range recs {
		got = append(got, n(t, r))
	}
	if err := q.Ack(len(recs)); err != nil {
		t.Fatal(err)
	}
	if err := q.saveNow(); err != nil { // what the saver does next
		t.Fatal(err)
	}
	return got
}

func reopen(t *testing.T, q *Queue, dir string) *Queue {
	t.Helper()
	q.Close()
	q2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q2.Close() })
	return q2
}

func TestCursorSlotsAlternateAndSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 10)
	for i := range 5 {
		wantSeq(t, peekAck(t, q, 1), i, i+1)
		q = reopen(t, q, dir)
	}
	if data, err := os.ReadFile(filepath.Join(dir, cursorFile)); err != nil || len(data) != 2*cursorSlotBytes {
		t.Fatalf("cursor file: %d bytes, %v", len(data), err)
	}
	wantSeq(t, drainAll(t, q, 3), 5, 10)
}

func TestTornCursorSlotFallsBackToThePreviousCursor(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 10)
	wantSeq(t, peekAck(t, q, 2), 0, 2)
	wantSeq(t, peekAck(t, q, 3), 2, 5) // written to the other slot
	q.Close()
	// A crash tore the last slot write: the previous cursor holds, and the
	// message that was in flight (events 2–4) is sent again.
	path := filepath.Join(dir, cursorFile)
	data, _ := os.ReadFile(path)
	last := int(q.cseq % 2)
	copy(data[last*cursorSlotBytes+10:], "garbage")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	q = reopen(t, q, dir)
	wantSeq(t, drainAll(t, q, 100), 2, 10)

}

// A cursor with no valid slot (zeros after a disk fault, garbage, a
// truncated file) is set aside: delivery restarts at the oldest record still
// on disk, so messages may repeat but none is lost, and the queue works on.
func TestUnusableCursorSetAsideRestartsAtOldestRecord(t *testing.T) {
	for name, content := range map[string][]byte{
		"zeros":   make([]byte, 2*cursorSlotBytes),
		"garbage": []byte("\x00\x01not a cursor"),
		"empty":   {},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			q, err := Open(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			appendAll(t, q, 0, 10)
			wantSeq(t, peekAck(t, q, 4), 0, 4)
			q.Close()
			path := filepath.Join(dir, cursorFile)
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			q, err = Open(dir, nil)
			if err != nil {
				t.Fatalf("refused to open over a bad cursor: %v", err)
			}
			defer q.Close()
			wantSeq(t, drainAll(t, q, 100), 0, 10)
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("cursor set aside as %v", aside)
			}
		})
	}
}

// A cursor that points past the data (a segment that is gone, an offset past
// its end) is no better than a corrupt one.
func TestCursorPastTheDataSetAside(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 5)
	q.Close()
	path := filepath.Join(dir, cursorFile)
	data := append(encodeSlot(cursor{Segment: 1, Offset: 1 << 30}, 7), encodeSlot(cursor{Segment: 1, Offset: 1 << 30}, 6)...)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	wantSeq(t, drainAll(t, q, 100), 0, 5)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
