package spool

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// appendPublish appends records [from,to) and publishes them, without a
// Sync: what the tailer hands the sender before the disk caught up.
func appendPublish(t *testing.T, q *Queue, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if added, err := q.Append(rec(i)); err != nil || !added {
			t.Fatalf("append %d: %v %v", i, added, err)
		}
	}
	q.Publish()
}

// savedCursor is the cursor on disk, as the next Open reads it.
func savedCursor(t *testing.T, dir string) cursor {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, cursorFile))
	if errors.Is(err, os.ErrNotExist) {
		return cursor{}
	}
	if err != nil {
		t.Fatal(err)
	}
	var newest cursor
	var newestSeq uint64
	for i := 0; (i+1)*cursorSlotBytes <= len(data); i++ {
		if c, seq, ok := decodeSlot(data[i*cursorSlotBytes : (i+1)*cursorSlotBytes]); ok && seq >= newestSeq {
			newest, newestSeq = c, seq
		}
	}
	return newest
}

// While an fsync is under way (a busy disk), appends, publishing, reading
// and acknowledging go on: none of them waits for it.
func TestNothingWaitsForASyncUnderWay(t *testing.T) {
	q, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appendPublish(t, q, 0, 3)
	entered, release := make(chan struct{}), make(chan struct{})
	q.fsync = func(f *os.File) error {
		close(entered)
		<-release
		return f.Sync()
	}
	synced := make(chan error, 1)
	go func() { synced <- q.Sync() }()
	<-entered
	appendPublish(t, q, 3, 6)
	wantSeq(t, nums(t, peek(t, q, 10, 1<<20)), 0, 6)
	if err := q.Ack(6); err != nil {
		t.Fatal(err)
	}
	if err := q.saveNow(); err != nil {
		t.Fatal(err)
	}
	if c := savedCursor(t, q.dir); c.Offset != 0 {
		t.Fatalf("cursor %+v saved past records no sync covered", c)
	}
	close(release)
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
	// That sync covered what was published before it started (0–2), no more.
	q.saveNow()
	first := savedCursor(t, q.dir)
	if first.Offset == 0 {
		t.Fatal("cursor not saved after the sync")
	}
	q.fsync = (*os.File).Sync
	if err := q.Sync(); err != nil {
		t.Fatal(err)
	}
	q.saveNow()
	if c := savedCursor(t, q.dir); !first.less(c) {
		t.Fatalf("cursor %+v did not move past the second sync's records (first %+v)", c, first)
	}
}

// The cursor is never saved past the durable records. Records posted and
// acknowledged before their sync that a power loss then takes from the
// disk are read again from the log: they repeat, and the records after
// them are delivered, whatever their lengths are the second time.
func TestPowerLossBeforeTheSyncRepeatsNeverLoses(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 3) // durable
	durableSize := segSize(t, q)
	appendPublish(t, q, 3, 6)
	wantSeq(t, drainAll(t, q, 10), 0, 6) // all posted, 3–5 before their sync
	q.stopSaver()                        // what is on disk when the power goes
	q.w.Close()
	// The page cache is gone: the segment ends where the sync left it.
	if err := os.Truncate(q.segPath(q.wSeg), durableSize); err != nil {
		t.Fatal(err)
	}
	q, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	// The log's lines after the checkpoint (3 on) are read again; the rules
	// changed meanwhile, so the records are longer than before.
	for i := 3; i < 9; i++ {
		r := rec(i)
		r.Mention = []string{"S0123ABCD"}
		if added, err := q.Append(r); err != nil || !added {
			t.Fatalf("append %d after the power loss: %v %v", i, added, err)
		}
	}
	q.Publish()
	wantSeq(t, drainAll(t, q, 10), 3, 9)
}

// A failed fsync counts everything since the last good one as not written:
// later syncs fail until the tailer rolls back, the rollback cuts the
// published records (the sender drops what it peeked), and the lines read
// again are queued and delivered again.
func TestFailedSyncHoldsUntilRollbackThenRepeats(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appendAll(t, q, 0, 2)
	wantSeq(t, drainAll(t, q, 10), 0, 2)
	appendPublish(t, q, 2, 5)
	held := peek(t, q, 10, 1<<20) // the sender is posting these
	q.fsync = func(*os.File) error { return syscall.EIO }
	if err := q.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync = %v, want EIO", err)
	}
	q.fsync = (*os.File).Sync
	if err := q.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("a sync after a failed one = %v: it must not count the data as durable", err)
	}
	q.Rollback()
	if err := q.Ack(len(held)); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("the sender's ack after the rollback: %v, want ErrRolledBack", err)
	}
	if q.Len() != 0 || q.HighWater() != rec(1).Pos {
		t.Fatalf("after the rollback: len %d, high water %+v", q.Len(), q.HighWater())
	}
	appendAll(t, q, 2, 6)
	wantSeq(t, drainAll(t, q, 10), 2, 6)
	q.Close()
	q, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Len() != 0 {
		t.Fatalf("%d records left after a restart", q.Len())
	}
}

// A rollback reaches back across segments started since the last good
// sync: they are removed and the last durable segment is active again.
func TestRollbackAcrossASegmentRoll(t *testing.T) {
	dir := t.TempDir()
	q, err := open(dir, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appendAll(t, q, 0, 5)
	before, _ := q.segments()
	appendPublish(t, q, 5, 40) // several new segments, none synced
	if segs, _ := q.segments(); len(segs) <= len(before) {
		t.Fatalf("no segment started: %v", segs)
	}
	q.fsync = func(*os.File) error { return syscall.EIO }
	q.Sync()
	q.fsync = (*os.File).Sync
	q.Rollback()
	if segs, _ := q.segments(); len(segs) != len(before) {
		t.Fatalf("segments after the rollback %v, want %v", segs, before)
	}
	appendAll(t, q, 5, 40)
	wantSeq(t, drainAll(t, q, 7), 0, 40)
	q.saveNow()
	q.Close()
	q, err = open(dir, 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || q.HighWater() != rec(39).Pos {
		t.Fatalf("after a restart: len %d, high water %+v", q.Len(), q.HighWater())
	}
}

// A segment started just before a crash, whose opening marker never
// reached the disk, is dropped at the next start: the one before it holds
// the last position, so lines read again are still recognised.
func TestEmptyLastSegmentAfterACrash(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendAll(t, q, 0, 3)
	q.Close()
	if err := os.WriteFile(filepath.Join(dir, "0000000000000002.jsonl"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if added, _ := q.Append(rec(2)); added {
		t.Fatal("a record already queued was queued again")
	}
	if _, err := os.Stat(filepath.Join(dir, "0000000000000002.jsonl")); !os.IsNotExist(err) {
		t.Fatalf("the empty segment is still there: %v", err)
	}
}

// The saver writes acknowledgements by itself, soon, without the sender
// waiting for it.
func TestSaverWritesTheCursorBehindTheSender(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	appendAll(t, q, 0, 50)
	for range 50 {
		peek(t, q, 1, 1<<20)
		if err := q.Ack(1); err != nil {
			t.Fatal(err)
		}
	}
	end := cursor{Segment: q.wSeg, Offset: segSize(t, q)}
	testenv.Eventually(t, 10*time.Second, "the cursor saved after the last record", func() bool {
		return savedCursor(t, dir) == end
	})
}
