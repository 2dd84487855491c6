package spool

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func peekAck(t *testing.T, q *Queue, k int) []int {
	t.Helper()
	recs, err := q.Peek(k, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range recs {
		got = append(got, n(t, r))
	}
	if err := q.Ack(len(recs)); err != nil {
		t.Fatal(err)
	}
	return got
}

func reopen(t *testing.T, q *Queue, dir string) *Queue {
	t.Helper()
	q.Close()
	q2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q2.Close() })
	return q2
}

func TestCursorSlotsAlternateAndSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
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
	q, err := Open(dir)
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

	// Both slots unreadable: refuse to guess.
	q.Close()
	if err := os.WriteFile(path, make([]byte, 2*cursorSlotBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("opened with no valid cursor slot")
	}
}

func TestLegacyCursorFileIsReadThenReplaced(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 10)
	recs, err := q.Peek(3, 1<<20)
	if err != nil || len(recs) != 3 {
		t.Fatal(len(recs), err)
	}
	var skip int64
	for _, l := range q.peeked {
		skip += l
	}
	q.Close()
	// The layout of earlier versions: cursor.json only.
	legacy := filepath.Join(dir, legacyCursorFile)
	if err := os.WriteFile(legacy, []byte(`{"segment":1,"offset":`+itoa(skip)+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	wantSeq(t, peekAck(t, q, 1), 3, 4)
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Fatalf("legacy cursor still there: %v", err)
	}
	q = reopen(t, q, dir)
	wantSeq(t, drainAll(t, q, 100), 4, 10)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
