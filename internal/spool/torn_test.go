package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// cutShort makes the queue's next segment write store only the first n
// bytes of what it is given and fail with ENOSPC, as a full disk does; it
// reports 0 bytes written, as os.File.WriteAt does when the second pwrite
// of its loop fails.
func cutShort(q *Queue, n int) {
	write := q.writeAt
	q.writeAt = func(f *os.File, b []byte, off int64) (int, error) {
		q.writeAt = write
		if n >= len(b) {
			return write(f, b, off)
		}
		if _, err := write(f, b[:n], off); err != nil {
			return 0, err
		}
		return 0, syscall.ENOSPC
	}
}

// An append cut short at any byte of a record leaves nothing behind: the
// segment ends at the last whole record, the next appends follow it, and
// every record is read once, with nothing reported corrupt.
func TestAppendCutShortAtEveryByteLeavesNothing(t *testing.T) {
	recLen := len(encode(rec(2)))
	for n := 0; n <= recLen; n++ {
		dir := t.TempDir()
		q, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, q, 0, 2)
		before := segSize(t, q)
		cutShort(q, n)
		added, err := q.Append(rec(2))
		switch {
		case n < recLen && (err == nil || !errors.Is(err, syscall.ENOSPC)):
			t.Fatalf("cut after %d of %d bytes: Append = %v, %v; want ENOSPC", n, recLen, added, err)
		case n < recLen:
			if got := segSize(t, q); got != before {
				t.Fatalf("cut after %d of %d bytes: the segment holds %d bytes, want %d (its last whole record)", n, recLen, got, before)
			}
			q.Rollback() // what the tailer does next; it reads the line again
			appendAll(t, q, 2, 5)
		case err != nil || !added:
			t.Fatalf("a whole record written: Append = %v, %v", added, err)
		default:
			appendAll(t, q, 3, 5)
		}
		wantSeq(t, drainAll(t, q, 10), 0, 5)
		q.Close()
		if _, err := os.Stat(filepath.Join(dir, "corrupt-records")); err == nil {
			t.Fatalf("cut after %d bytes: a record was reported corrupt", n)
		}
	}
}

// When the cut itself fails, the queue refuses appends (the tailer holds
// back) until a cut succeeds; nothing is written after the remains.
func TestFailedCutRefusesAppendsUntilItSucceeds(t *testing.T) {
	for _, how := range []string{"append cut short", "rollback"} {
		t.Run(how, func(t *testing.T) {
			q, err := Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			appendAll(t, q, 0, 2)
			before := segSize(t, q)
			failing := 4
			truncate := q.truncate
			q.truncate = func(f *os.File, size int64) error {
				if failing > 0 {
					failing--
					return syscall.EIO
				}
				return truncate(f, size)
			}
			if how == "rollback" {
				if _, err := q.Append(rec(2)); err != nil {
					t.Fatal(err)
				}
				q.Rollback()
			} else {
				cutShort(q, 10)
				if _, err := q.Append(rec(2)); err == nil {
					t.Fatal("an append cut short succeeded")
				}
				q.Rollback()
			}
			if got := segSize(t, q); got == before {
				t.Fatal("the test's fault did not leave bytes behind")
			}
			for failing > 0 {
				if added, err := q.Append(rec(2)); err == nil || added {
					t.Fatalf("Append = %v, %v while the segment could not be cut", added, err)
				}
				q.Rollback()
			}
			appendAll(t, q, 2, 4)
			wantSeq(t, drainAll(t, q, 10), 0, 4)
			if _, err := os.Stat(filepath.Join(q.dir, "corrupt-records")); err == nil {
				t.Fatal("a record was reported corrupt")
			}
		})
	}
}

// A segment holding the first bytes of a record in front of an intact one
// (written by a version without the cut, or left by a crash between a write
// and its cut): the reader skips the remains alone, reports them, and
// delivers the intact record, whatever byte the write stopped at.
func TestReaderSkipsRemainsInFrontOfARecord(t *testing.T) {
	full := encode(rec(2))
	for n := 1; n < len(full); n++ {
		dir := t.TempDir()
		q, err := Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		appendAll(t, q, 0, 2)
		q.Close()
		var seg bytes.Buffer
		seg.Write(full[:n])
		seg.Write(encode(rec(3)))
		seg.Write(encode(rec(4)))
		appendSegment(t, dir, seg.Bytes())

		q, err = Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Len() != 4 {
			t.Fatalf("remains of %d bytes: Len %d, want 4", n, q.Len())
		}
		if got := fmt.Sprint(drainAll(t, q, 1+n%3)); got != "[0 1 3 4]" {
			t.Fatalf("remains of %d bytes: delivered %v, want [0 1 3 4]", n, got)
		}
		q.Close()
		if n == 1 {
			continue // only a record start: white space before the next record, nothing to keep
		}
		kept, err := os.ReadFile(filepath.Join(dir, "corrupt-records"))
		if err != nil || !bytes.Contains(kept, []byte(fmt.Sprintf("%q", full[:n]))) {
			t.Fatalf("remains of %d bytes: no copy kept (%v): %q", n, err, kept)
		}
	}
}

// Segments written before records had a start byte are read as they were,
// also with new records appended after the old ones.
func TestSegmentsWithoutRecordStartAreRead(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var old bytes.Buffer
	for i := range 3 {
		old.Write(bytes.TrimPrefix(encode(rec(i)), []byte{recordStart}))
	}
	appendSegment(t, dir, old.Bytes())
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if q.Len() != 3 || q.HighWater() != rec(2).Pos {
		t.Fatalf("old segment: Len %d, high water %+v", q.Len(), q.HighWater())
	}
	if added, _ := q.Append(rec(1)); added {
		t.Fatal("a position the old segment holds was queued again")
	}
	appendAll(t, q, 3, 5)
	wantSeq(t, drainAll(t, q, 2), 0, 5)
}

func segSize(t *testing.T, q *Queue) int64 {
	t.Helper()
	fi, err := os.Stat(q.segPath(q.wSeg))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// appendSegment appends data to the first segment file of the queue in dir.
func appendSegment(t *testing.T, dir string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%016d.jsonl", 1)), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}
