// Package spool is one channel's durable delivery queue: routed events wait
// here, on disk, until Slack accepted them. It owns segment files and the
// read cursor; it knows nothing about Slack or the log's files.
//
// The tailer appends and syncs before it checkpoints the log, and each
// record carries the log position it came from, so a line read again after
// a crash is recognised and not queued twice. The sender acknowledges
// records after Slack accepted them; the cursor is then written atomically,
// so a crash repeats at most the message that was in flight.
package spool

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/auditfwd/auditfwd/internal/fsutil"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Queue is a FIFO of Records in a directory. Append/Sync are called by one
// goroutine (the tailer's), Peek/Ack by another (the sender's).
type Queue struct {
	dir          string
	segmentBytes int64

	log *slog.Logger

	mu       sync.Mutex
	w        *os.File // active segment, append only
	wSeg     uint64
	wSize    int64 // bytes written to the active segment
	flushed  int64 // bytes of the active segment fsynced (published or not)
	synced   int64 // bytes of the active segment published: readers stop here
	lastPos  logpos.Position
	pubPos   logpos.Position // lastPos when last published
	pending  int             // records after the cursor that are published
	unsynced int             // records appended since the last publish
	cur      cursor
	peeked   []int64 // byte length of each record the last Peek returned
	notify   chan struct{}
	dirty    bool
	enc      []byte // Append's encoding buffer
	// torn is set while the active segment may hold bytes past wSize: a
	// write cut short, or records rolled back, that could not be cut yet.
	// Nothing is written to the segment until they are cut.
	torn bool

	// The active segment's writes, through these so that tests can fail them.
	writeAt  func(f *os.File, b []byte, off int64) (int, error)
	truncate func(f *os.File, size int64) error

	reported cursor // the last corrupt record logged, so a retried read logs it once

	cmu  sync.Mutex // the cursor file
	cf   *os.File   // open after the first save
	cseq uint64     // sequence number of the last cursor slot written
}

// Open opens (or creates) the queue in dir. Damage is repaired, reported
// through log and never fatal: a torn last record is cut (its line is read
// again from the log), a corrupt record is skipped when read, and a cursor
// that cannot be read is set aside (delivery restarts at the oldest record
// on disk: a repeat, never a loss).
func Open(dir string, log *slog.Logger) (*Queue, error) { return open(dir, SegmentBytes, log) }

func open(dir string, segmentBytes int64, log *slog.Logger) (*Queue, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := fsutil.MkdirPrivate(dir); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	q := &Queue{
		dir: dir, segmentBytes: segmentBytes, log: log, notify: make(chan struct{}, 1),
		writeAt:  (*os.File).WriteAt,
		truncate: (*os.File).Truncate,
	}
	segs, err := q.segments()
	if err != nil {
		return nil, err
	}
	q.loadCursor()
	if len(segs) == 0 {
		segs = []uint64{max(1, q.cur.Segment)}
	}
	q.wSeg = segs[len(segs)-1]
	f, err := fsutil.OpenFile(q.segPath(q.wSeg), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	// Cut a record torn by a crash mid-write: it was never synced, so the
	// tailer has not checkpointed past it and will read its line again.
	good, size, last, err := scanSegment(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	if good < size {
		q.log.Warn("spool: cutting a torn last record (a crash or power loss mid-write); its log line is read again",
			"file", q.segPath(q.wSeg), "offset", good, "bytes", size-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("open spool %s: %w", dir, err)
		}
	}
	q.w, q.wSize, q.flushed, q.synced, q.lastPos, q.pubPos = f, good, good, good, last, last
	if q.cur.Segment == 0 || q.cur.Segment < segs[0] {
		q.cur = cursor{Segment: segs[0]}
	}
	if !q.cursorInRange() {
		q.setCursorAside(fmt.Errorf("cursor %d:%d points past the queue's data", q.cur.Segment, q.cur.Offset))
		q.cur = cursor{Segment: segs[0]}
	}
	n, err := q.countFrom(q.cur)
	if err != nil {
		f.Close()
		return nil, err
	}
	q.pending = n
	return q, nil
}

// HighWater is the position of the last record the queue holds durably.
func (q *Queue) HighWater() logpos.Position {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pubPos
}

// Close releases the active segment and the cursor file.
func (q *Queue) Close() error {
	q.cmu.Lock()
	if q.cf != nil {
		q.cf.Close()
		q.cf = nil
	}
	q.cmu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return nil
	}
	if q.torn {
		q.cutLocked() // else the next Open cuts the torn tail
	}
	err := q.w.Close()
	q.w = nil
	return err
}

// Append queues r unless a record at or after r.Pos is already held (the
// line was read again after a restart). It is not durable before Sync.
func (q *Queue) Append(r Record) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.lastPos.Less(r.Pos) {
		return false, nil
	}
	if err := q.cutLocked(); err != nil {
		return false, err
	}
	if q.wSize >= q.segmentBytes {
		if err := q.rollLocked(); err != nil {
			return false, err
		}
	}
	q.enc = appendRecord(q.enc[:0], r)
	line := q.enc
	// Written at wSize, not at the descriptor's offset: where the record
	// goes never depends on what an earlier failed write left behind.
	if _, err := q.writeAt(q.w, line, q.wSize); err != nil {
		// Perhaps cut short (disk full, I/O error): the record's first
		// bytes must not stay in front of the next one. How many were
		// written is not known (os.File.WriteAt reports 0 when a later
		// pwrite of its loop fails), so the segment is always cut.
		q.torn = true
		if cerr := q.cutLocked(); cerr != nil {
			return false, fmt.Errorf("spool %s: append: %w (%w)", q.dir, err, cerr)
		}
		return false, fmt.Errorf("spool %s: append: %w", q.dir, err)
	}
	q.wSize += int64(len(line))
	q.lastPos = r.Pos
	q.unsynced++
	q.dirty = true
	return true, nil
}

// Sync makes appended records durable and visible to the sender.
func (q *Queue) Sync() error {
	if err := q.Flush(); err != nil {
		return err
	}
	q.Publish()
	return nil
}

// Flush makes appended records durable without handing them to the sender
// yet: several queues are flushed, then all published, so that one failing
// queue can still roll the others back without a record having gone out.
func (q *Queue) Flush() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.dirty {
		return nil
	}
	if err := q.w.Sync(); err != nil {
		return fmt.Errorf("spool %s: fsync: %w", q.dir, err)
	}
	q.flushed = q.wSize
	return nil
}

// Publish hands the flushed records to the sender.
func (q *Queue) Publish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.dirty || q.flushed != q.wSize {
		return
	}
	q.synced = q.flushed
	q.pending += q.unsynced
	q.unsynced = 0
	q.pubPos = q.lastPos
	q.dirty = false
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Rollback drops the records appended since the last publish (the tailer
// reads their lines again), cutting them from the segment.
func (q *Queue) Rollback() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return
	}
	if q.wSize != q.synced {
		q.torn = true
	}
	q.wSize, q.flushed = q.synced, q.synced
	// Cutting frees space and needs none. Should it fail, nothing is
	// written to the segment until it succeeds (Append tries again).
	q.cutLocked()
	q.lastPos = q.pubPos
	q.unsynced = 0
	q.dirty = false
}

// cutLocked cuts the active segment back to wSize, the end of its last
// whole record, when a failed write or a rollback left more behind. Until
// that succeeds the queue refuses appends (the tailer holds back and reads
// the lines again later): a record written after the remains of another
// could be read as part of it, and records rolled back could be delivered
// beside their second copy once the segment is read to its end.
func (q *Queue) cutLocked() error {
	if !q.torn {
		return nil
	}
	if err := q.truncate(q.w, q.wSize); err != nil {
		q.log.Error("spool: cannot cut a partly written or rolled back record from the active segment; refusing appends until it can",
			"file", q.segPath(q.wSeg), "offset", q.wSize, "err", err)
		return fmt.Errorf("spool %s: cut the active segment back to %d bytes: %w", q.dir, q.wSize, err)
	}
	q.torn = false
	return nil
}

// Ready is signalled after Sync made new records available.
func (q *Queue) Ready() <-chan struct{} { return q.notify }

// Len is the number of durable records not acknowledged yet.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// Peek returns up to max records from the head (at least one if any is
// waiting, however large), stopping before maxBytes of events. A digest never
// spans two segment files. It changes nothing on disk; it remembers what it
// returned, for Ack. When the head holds no event (a segment's opening
// marker, a corrupt record, a segment delivered to its end), it returns
// none: Trim moves past that.
func (q *Queue) Peek(max, maxBytes int) ([]Record, error) {
	out, outLens, _, err := q.head(max, maxBytes)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	q.peeked = outLens
	q.mu.Unlock()
	return out, nil
}

// Trim moves the cursor past what holds no event at the head: markers and
// corrupt records before the next record, and segments delivered to their
// end, whose files it deletes. The cursor is saved. It reports whether it
// moved; the sender calls it when Peek found nothing.
func (q *Queue) Trim() (bool, error) {
	moved := false
	for {
		q.mu.Lock()
		cur, wSeg := q.cur, q.wSeg
		q.mu.Unlock()
		out, _, skip, err := q.head(16, 1<<20)
		if err != nil {
			return moved, err
		}
		if len(out) > 0 || cur.Segment == wSeg && skip == 0 {
			return moved, nil
		}
		next := cursor{Segment: cur.Segment, Offset: cur.Offset + skip}
		if skip == 0 { // this segment is fully delivered: the next one starts
			next = cursor{Segment: cur.Segment + 1}
		}
		q.mu.Lock()
		q.cur = next
		q.mu.Unlock()
		if err := q.saveCursor(next); err != nil {
			return true, err
		}
		if next.Segment != cur.Segment {
			os.Remove(q.segPath(cur.Segment))
		}
		moved = true
	}
}

// head reads the records at the cursor. lens[i] is how far acknowledging
// out[i] moves the cursor: a marker or corrupt record before a record is
// acknowledged with it. skip is the length of such lines at the end of what
// was read with no record after them.
func (q *Queue) head(max, maxBytes int) (out []Record, lens []int64, skip int64, err error) {
	q.mu.Lock()
	cur, wSeg, synced := q.cur, q.wSeg, q.synced
	q.mu.Unlock()
	limit := int64(-1)
	if cur.Segment == wSeg {
		limit = synced
	}
	if limit >= 0 && cur.Offset >= limit {
		return nil, nil, 0, nil
	}
	recs, recLens, err := q.readSegment(cur, limit, max, maxBytes)
	if err != nil {
		return nil, nil, 0, err
	}
	for i, r := range recs {
		if r.Marker || r.corrupt {
			skip += recLens[i]
			continue
		}
		out = append(out, r)
		lens = append(lens, recLens[i]+skip)
		skip = 0
	}
	return out, lens, skip, nil
}

// Ack removes the first n records returned by the last Peek, durably.
func (q *Queue) Ack(n int) error {
	q.mu.Lock()
	if n > len(q.peeked) {
		q.mu.Unlock()
		return fmt.Errorf("spool %s: ack %d of %d peeked records", q.dir, n, len(q.peeked))
	}
	var adv int64
	for _, l := range q.peeked[:n] {
		adv += l
	}
	q.peeked = q.peeked[n:]
	next := q.cur
	next.Offset += adv
	q.cur = next
	q.pending -= n
	q.mu.Unlock()
	return q.saveCursor(next)
}
