package spool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

type cursor struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

// The cursor lives in cursorFile: two fixed-size text slots, each a JSON
// object with a sequence number and a CRC, written in place by turns and
// made durable with fdatasync. A write torn by a crash spoils only the slot
// being written: the other one still holds the previous cursor, which repeats
// at most the message that was in flight. Replacing a file (temp file, fsync,
// rename, directory fsync) after every Slack post cost the sender more than
// the post itself during a backlog. The file is created whole, atomically.
const (
	cursorFile      = "cursor"
	cursorSlotBytes = 128
)

type cursorSlot struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
	Seq     uint64 `json:"seq"`
	CRC     uint32 `json:"crc"`
}

func slotCRC(c cursor, seq uint64) uint32 {
	var b [64]byte
	x := strconv.AppendUint(b[:0], c.Segment, 10)
	x = append(x, ' ')
	x = strconv.AppendInt(x, c.Offset, 10)
	x = append(x, ' ')
	x = strconv.AppendUint(x, seq, 10)
	return crc32.ChecksumIEEE(x)
}

// encodeSlot lays out one slot: the JSON object, spaces, a newline.
func encodeSlot(c cursor, seq uint64) []byte {
	data, _ := json.Marshal(cursorSlot{Segment: c.Segment, Offset: c.Offset, Seq: seq, CRC: slotCRC(c, seq)})
	slot := bytes.Repeat([]byte{' '}, cursorSlotBytes)
	copy(slot, data)
	slot[cursorSlotBytes-1] = '\n'
	return slot
}

func decodeSlot(b []byte) (cursor, uint64, bool) {
	var s cursorSlot
	if json.Unmarshal(bytes.TrimRight(b, " \n"), &s) != nil {
		return cursor{}, 0, false
	}
	c := cursor{Segment: s.Segment, Offset: s.Offset}
	return c, s.Seq, s.CRC == slotCRC(c, s.Seq)
}

// saver writes the cursor on a goroutine of the queue's own, so that the
// sender never waits for the disk between two posts: acknowledgements made
// meanwhile are written together, and the cursor never passes the records
// Sync made durable. Segments delivered to their end are deleted once the
// cursor past them is on disk.
type saver struct {
	cmu     sync.Mutex // one save at a time: the cursor file and what follows
	cf      *os.File   // open after the first save
	cseq    uint64     // sequence number of the last cursor slot written
	first   uint64     // the oldest segment whose file may still exist
	failing bool       // the last save failed (logged once until one succeeds)

	saved cursor // the cursor on disk (Queue.mu)

	wake, stop, done chan struct{}
}

func (q *Queue) startSaver() {
	q.wake, q.stop, q.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go q.runSaver()
}

func (q *Queue) wakeSaver() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// stopSaver ends the goroutine, then saves what is left and closes the
// cursor file.
func (q *Queue) stopSaver() {
	if q.stop == nil {
		return
	}
	select {
	case <-q.stop:
		return // closed before
	default:
	}
	close(q.stop)
	<-q.done
	q.saveNow()
	q.cmu.Lock()
	if q.cf != nil {
		q.cf.Close()
		q.cf = nil
	}
	q.cmu.Unlock()
}

// saveEvery spaces the saver's writes: an acknowledgement after a quiet
// spell is written at once, but while a backlog is posted (a message every
// few milliseconds, one fdatasync each cost the daemon about 6 % of its
// CPU) the acknowledgements of up to this long are written together. A
// crash meanwhile repeats those messages, as it repeats any message posted
// and not yet recorded.
const saveEvery = 20 * time.Millisecond

func (q *Queue) runSaver() {
	defer close(q.done)
	var last time.Time
	for {
		select {
		case <-q.stop:
			return
		case <-q.wake:
		}
		if wait := saveEvery - time.Since(last); wait > 0 {
			select {
			case <-q.stop:
				return
			case <-time.After(wait):
			}
		}
		last = time.Now()
		// A failed write (state_dir full or failing) is tried again with
		// backoff; a crash meanwhile repeats what was delivered since.
		for attempt := 0; q.saveNow() != nil; attempt++ {
			select {
			case <-q.stop:
				return
			case <-time.After(min(time.Second<<min(attempt, 5), 30*time.Second)):
			}
		}
	}
}

// saveNow writes the cursor as far as the sender went and the records are
// durable, and deletes the segments it passed.
func (q *Queue) saveNow() error {
	q.cmu.Lock()
	defer q.cmu.Unlock()
	q.mu.Lock()
	c, saved := minCursor(q.cur, q.durable), q.saved
	q.mu.Unlock()
	if !saved.less(c) {
		return nil
	}
	if q.holdCursor != nil {
		q.holdCursor()
	}
	if err := q.saveCursor(c); err != nil {
		q.cseq-- // the next attempt writes the same slot: the other one holds the cursor on disk
		if !q.failing {
			q.log.Error("spool: cannot record delivery; retrying (if auditfwd stops meanwhile, what was delivered since may repeat)", "dir", q.dir, "err", err)
			q.failing = true
		}
		return err
	}
	if q.failing {
		q.log.Info("spool: delivery recorded again", "dir", q.dir)
		q.failing = false
	}
	q.mu.Lock()
	q.saved = c
	q.mu.Unlock()
	for ; q.first < c.Segment; q.first++ {
		if err := os.Remove(q.segPath(q.first)); err != nil && !errors.Is(err, os.ErrNotExist) {
			q.log.Warn("spool: cannot delete a delivered segment", "file", q.segPath(q.first), "err", err)
		}
	}
	return nil
}

// saveCursor writes c into the next slot (cmu held).
func (q *Queue) saveCursor(c cursor) error {
	q.cseq++
	slot := encodeSlot(c, q.cseq)
	if q.cf == nil {
		path := filepath.Join(q.dir, cursorFile)
		created := false
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			data := make([]byte, 2*cursorSlotBytes)
			copy(data[(q.cseq%2)*cursorSlotBytes:], slot)
			copy(data[((q.cseq+1)%2)*cursorSlotBytes:], encodeSlot(c, q.cseq-1))
			if err := fsutil.WriteFileAtomic(path, data, 0o600); err != nil {
				return fmt.Errorf("spool %s: %w", q.dir, err)
			}
			created = true
		} else if err != nil {
			return fmt.Errorf("spool %s: cursor: %w", q.dir, err)
		}
		f, err := fsutil.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("spool %s: cursor: %w", q.dir, err)
		}
		q.cf = f
		if created {
			return nil // it holds c already
		}
	}
	if _, err := q.cf.WriteAt(slot, int64(q.cseq%2)*cursorSlotBytes); err != nil {
		return fmt.Errorf("spool %s: cursor: %w", q.dir, err)
	}
	if err := datasync(q.cf); err != nil {
		return fmt.Errorf("spool %s: cursor: fdatasync: %w", q.dir, err)
	}
	return nil
}

// datasync is fdatasync: the slot's data, without the mtime update.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return f.Sync()
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = fdatasync(int(fd)) }); err != nil {
		return err
	}
	return serr
}

// loadCursor reads the newest valid slot. A cursor file that cannot be read
// or holds no valid slot is set aside; the queue then starts at its oldest
// record.
func (q *Queue) loadCursor() {
	path := filepath.Join(q.dir, cursorFile)
	data, err := fsutil.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		q.setCursorAside(err)
		return
	}
	found := false
	for i := 0; (i+1)*cursorSlotBytes <= len(data); i++ {
		c, seq, ok := decodeSlot(data[i*cursorSlotBytes : (i+1)*cursorSlotBytes])
		if ok && (!found || seq > q.cseq) {
			q.cur, q.cseq, found = c, seq, true
		}
	}
	if !found {
		q.setCursorAside(fmt.Errorf("no valid slot in %d bytes", len(data)))
	}
}

// setCursorAside moves an unusable cursor file away for investigation and
// restarts delivery at the oldest record on disk.
func (q *Queue) setCursorAside(cause error) {
	path := filepath.Join(q.dir, cursorFile)
	aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
	if err := os.Rename(path, aside); err != nil {
		aside = "(could not be moved aside: " + err.Error() + ")"
	}
	q.log.Error("spool cursor unusable; delivering again from the oldest queued record (some messages may repeat, none is lost)",
		"file", path, "err", cause, "moved_to", aside)
	q.cur, q.cseq = cursor{}, 0
}

// cursorInRange reports whether the cursor points into the queue's data.
func (q *Queue) cursorInRange() bool {
	if q.cur.Segment > q.wSeg || q.cur.Offset < 0 {
		return false
	}
	fi, err := os.Stat(q.segPath(q.cur.Segment))
	if err != nil {
		return q.cur.Offset == 0
	}
	return q.cur.Offset <= fi.Size()
}

// reportCorrupt logs a record that cannot be decoded (once per record) and
// keeps a copy of its bytes beside the segments for investigation; the
// reader skips it.
func (q *Queue) reportCorrupt(at cursor, line []byte, cause error) {
	q.mu.Lock()
	seen := q.reported == at
	q.reported = at
	q.mu.Unlock()
	if seen {
		return
	}
	copyPath := filepath.Join(q.dir, "corrupt-records")
	if f, err := fsutil.OpenFile(copyPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		fmt.Fprintf(f, "%s at %d: %q\n", q.segPath(at.Segment), at.Offset, line)
		f.Close()
	}
	q.log.Error("spool: skipping a corrupt record (disk fault?); a copy is kept",
		"file", q.segPath(at.Segment), "offset", at.Offset, "bytes", len(line), "err", cause, "copy", copyPath)
}
