package spool

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/logpos"
)

func rec(i int) Record {
	return Record{
		Pos:    logpos.Position{Gen: 1, Offset: int64(i+1) * 100},
		Target: "#security",
		Event:  json.RawMessage(fmt.Sprintf(`{"action":"login.complete","n":%d}`, i)),
	}
}

func n(t *testing.T, r Record) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(r.Event, &v); err != nil {
		t.Fatal(err)
	}
	return v.N
}

func appendAll(t *testing.T, q *Queue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := q.Append(rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	q.Publish()
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
}

// peek is the sender's read: Peek, and when it finds nothing, Trim past a
// marker or a delivered segment and Peek again.
func peek(t *testing.T, q *Queue, max, maxBytes int) []Record {
	t.Helper()
	for {
		recs, err := q.Peek(max, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 {
			return recs
		}
		moved, err := q.Trim()
		if err != nil {
			t.Fatal(err)
		}
		if !moved {
			return nil
		}
	}
}

// drainAll peeks and acks everything, returning the event numbers in order.
func drainAll(t *testing.T, q *Queue, batch int) []int {
	t.Helper()
	var got []int
	for {
		recs := peek(t, q, batch, 1<<20)
		if len(recs) == 0 {
			return got
		}
		for _, r := range recs {
			got = append(got, n(t, r))
		}
		if err := q.Ack(len(recs)); err != nil {
			t.Fatal(err)
		}
	}
}

func wantSeq(t *testing.T, got []int, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("got %d records, want %d: %v", len(got), to-from, got)
	}
	for i, v := range got {
		if v != from+i {
			t.Fatalf("record %d is %d, want %d", i, v, from+i)
		}
	}
}

// An appended record reaches the sender when it is published, before it
// is durable: nothing on the way to Slack waits for the disk.
func TestRecordsAreVisibleOncePublishedBeforeSync(t *testing.T) {
	q, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.Append(rec(0))
	if recs, _ := q.Peek(10, 1<<20); len(recs) != 0 || q.Len() != 0 {
		t.Fatalf("unpublished record visible: %d, len %d", len(recs), q.Len())
	}
	q.fsync = func(*os.File) error { panic("published records waited for a sync") }
	q.Publish()
	select {
	case <-q.Ready():
	default:
		t.Fatal("Publish did not signal Ready")
	}
	if recs, _ := q.Peek(10, 1<<20); len(recs) != 1 || q.Len() != 1 {
		t.Fatalf("published record not visible: %d, len %d", len(recs), q.Len())
	}
	if q.HighWater() != (logpos.Position{}) {
		t.Fatalf("high water %+v before any sync", q.HighWater())
	}
}

func TestAckSurvivesRestartAndDuplicatesAreRefused(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 10)
	recs := peek(t, q, 4, 1<<20)
	if err := q.Ack(4); err != nil || len(recs) != 4 {
		t.Fatal(err)
	}
	q.Close()

	q, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Len() != 6 {
		t.Fatalf("len after restart %d, want 6", q.Len())
	}
	// The tailer reads lines 5..12 again after a crash: 5..9 are held already.
	for i := 5; i < 12; i++ {
		added, err := q.Append(rec(i))
		if err != nil {
			t.Fatal(err)
		}
		if added != (i >= 10) {
			t.Fatalf("record %d added=%v", i, added)
		}
	}
	q.Publish()
	q.Sync()
	wantSeq(t, drainAll(t, q, 3), 4, 12)
}

func TestTornRecordIsCut(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(dir, nil)
	appendAll(t, q, 0, 3)
	q.Close()
	f, _ := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%016d.jsonl", 1)), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"pos":{"gen":1,"offset":400},"target":"#se`)
	f.Close()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if added, _ := q.Append(rec(3)); !added {
		t.Fatal("record after a torn one was refused")
	}
	q.Publish()
	q.Sync()
	wantSeq(t, drainAll(t, q, 10), 0, 4)
}

func TestSegmentsRollAndDeliveredOnesAreDeleted(t *testing.T) {
	dir := t.TempDir()
	q, err := open(dir, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 100)
	segs, _ := q.segments()
	if len(segs) < 5 {
		t.Fatalf("only %d segments", len(segs))
	}
	wantSeq(t, drainAll(t, q, 7), 0, 100)
	q.saveNow() // what the saver does next
	segs, _ = q.segments()
	if len(segs) != 1 {
		t.Fatalf("%d segments left after everything was delivered", len(segs))
	}
	q.Close()
	// The last position survives the deletion of old segments.
	q, err = open(dir, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if added, _ := q.Append(rec(50)); added {
		t.Fatal("an old position was queued again after segments were deleted")
	}
	if q.Len() != 0 {
		t.Fatalf("len %d", q.Len())
	}
}

func TestPeekBoundsBytesButReturnsOneLargeRecord(t *testing.T) {
	q, _ := Open(t.TempDir(), nil)
	defer q.Close()
	big := rec(0)
	big.Event = json.RawMessage(fmt.Sprintf(`{"n":0,"pad":%q}`, strings.Repeat("a", 5000)))
	q.Append(big)
	q.Append(rec(1))
	q.Publish()
	q.Sync()
	if recs := peek(t, q, 10, 1000); len(recs) != 1 {
		t.Fatalf("got %d records", len(recs))
	}
}

// A record damaged in the middle of a segment (a disk fault) is skipped and
// reported; the records around it are delivered, and so is everything after.
func TestCorruptRecordSkippedOthersDelivered(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(dir, nil)
	appendAll(t, q, 0, 5)
	q.Close()
	seg := filepath.Join(dir, fmt.Sprintf("%016d.jsonl", 1))
	data, _ := os.ReadFile(seg)
	lines := strings.SplitAfter(string(data), "\n")
	lines[2] = strings.Repeat("\x00", len(lines[2])-1) + "\n" // record 2, zeroed
	if err := os.WriteFile(seg, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if added, _ := q.Append(rec(5)); !added {
		t.Fatal("record after the damage refused")
	}
	q.Publish()
	q.Sync()
	if q.Len() != 5 {
		t.Fatalf("len %d; a corrupt record is not counted as waiting", q.Len())
	}
	got := drainAll(t, q, 2)
	if fmt.Sprint(got) != "[0 1 3 4 5]" {
		t.Fatalf("delivered %v, want [0 1 3 4 5]", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "corrupt-records")); err != nil {
		t.Fatalf("no copy of the corrupt record kept: %v", err)
	}
}

// Records rolled back (a commit failed elsewhere) are cut and never reach
// the sender; the same positions are accepted again afterwards.
func TestRollbackDropsUnpublishedRecords(t *testing.T) {
	dir := t.TempDir()
	q, _ := Open(dir, nil)
	defer q.Close()
	appendAll(t, q, 0, 3)
	for i := 3; i < 6; i++ {
		if added, err := q.Append(rec(i)); err != nil || !added {
			t.Fatal(added, err)
		}
	}
	q.Rollback()
	if q.Len() != 3 || q.HighWater() != rec(2).Pos {
		t.Fatalf("after rollback len %d high water %+v", q.Len(), q.HighWater())
	}
	for i := 3; i < 6; i++ {
		if added, err := q.Append(rec(i)); err != nil || !added {
			t.Fatalf("record %d refused after rollback: %v %v", i, added, err)
		}
	}
	q.Publish()
	q.Sync()
	wantSeq(t, drainAll(t, q, 10), 0, 6)
	q.Close()
	q2, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if q2.HighWater() != rec(5).Pos {
		t.Fatalf("high water after reopen %+v", q2.HighWater())
	}
}

// Peek reads; it changes nothing on disk. Moving past a finished segment is
// Trim's, and it deletes the segment's file.
func TestPeekHasNoSideEffectsTrimMovesOn(t *testing.T) {
	dir := t.TempDir()
	q, err := open(dir, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appendAll(t, q, 0, 30) // several segments of 1000 bytes
	segs, _ := q.segments()
	if len(segs) < 2 {
		t.Fatalf("want several segments, have %v", segs)
	}
	first := peek(t, q, 100, 1<<20) // the whole first segment
	if err := q.Ack(len(first)); err != nil {
		t.Fatal(err)
	}
	q.saveNow() // what the saver does next
	cursorBefore, _ := os.ReadFile(filepath.Join(dir, cursorFile))
	for range 3 {
		if recs, err := q.Peek(100, 1<<20); err != nil || len(recs) != 0 {
			t.Fatalf("Peek at a segment's end: %d records, %v", len(recs), err)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, cursorFile)); string(after) != string(cursorBefore) {
		t.Fatal("Peek moved the saved cursor")
	}
	if _, err := os.Stat(q.segPath(segs[0])); err != nil {
		t.Fatalf("Peek deleted the delivered segment: %v", err)
	}
	if moved, err := q.Trim(); err != nil || !moved {
		t.Fatalf("Trim: moved %v, %v", moved, err)
	}
	q.saveNow() // what the saver does next
	if _, err := os.Stat(q.segPath(segs[0])); !os.IsNotExist(err) {
		t.Fatalf("the delivered segment is still there after Trim: %v", err)
	}
	wantSeq(t, append(nums(t, first), drainAll(t, q, 7)...), 0, 30)
}

func nums(t *testing.T, recs []Record) []int {
	var out []int
	for _, r := range recs {
		out = append(out, n(t, r))
	}
	return out
}

// A sender that keeps what one message could not take tops it up with
// PeekMore: each record is read once, in order, and Ack removes them from
// the head as with Peek alone.
func TestPeekMoreReadsOnAfterTheHeldRecords(t *testing.T) {
	q, err := open(t.TempDir(), 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appendAll(t, q, 0, 40) // more than one segment
	var got []int
	held := peek(t, q, 5, 1<<20)
	for len(held) > 0 || q.Len() > 0 {
		if len(held) < 5 {
			more, err := q.PeekMore(5-len(held), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, more...)
		}
		if len(held) == 0 { // the held ones ended a segment
			held = peek(t, q, 5, 1<<20)
			continue
		}
		take := min(len(held), 3)
		got = append(got, nums(t, held[:take])...)
		if err := q.Ack(take); err != nil {
			t.Fatal(err)
		}
		held = held[take:]
	}
	wantSeq(t, got, 0, 40)
	q.saveNow()
	q.Close()
	q2, err := open(q.dir, 2000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if q2.Len() != 0 {
		t.Fatalf("%d records left after everything was acknowledged", q2.Len())
	}
}
