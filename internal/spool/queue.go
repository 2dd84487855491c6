// Package spool is one channel's durable delivery queue: routed events wait
// here, on disk, until Slack accepted them. It owns segment files and the
// read cursor; it knows nothing about Slack or the log's files.
//
// Nothing on the way from a log line to Slack waits for the disk: the
// tailer appends and publishes records (the sender may post them at once,
// from the page cache), and Sync, called off the tailer's path, makes them
// durable: one fsync covers every record published before it. The tailer
// checkpoints the log only after Sync, and each record carries the log
// position it came from, so a line read again after a crash is recognised
// and not queued twice. The sender acknowledges records in memory after
// Slack accepted them; a goroutine of the queue's own writes the cursor, but
// never past the records Sync made durable. A crash therefore repeats the
// messages in flight (posted but not yet recorded on disk), and a record
// lost with the page cache (power loss) is one whose line the tailer reads
// again: nothing is lost.
package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/auditfwd/auditfwd/internal/fsutil"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Queue is a FIFO of Records in a directory. Append, Publish and Rollback
// are called by one goroutine (the tailer's), Sync by one other at a time
// (the tailer's syncer), Peek, Trim and Ack by another (the sender's).
type Queue struct {
	dir          string
	segmentBytes int64

	log *slog.Logger

	mu      sync.Mutex
	w       *os.File // active segment, append only
	wSeg    uint64
	wSize   int64     // bytes written to the active segment
	rolled  []segFile // segments rolled away from, open until a Sync passed them (oldest first)
	dirty   bool      // the directory gained a segment since it was last synced
	lastPos logpos.Position
	// pub is where the records handed to the sender end (readers stop
	// there); durable is where the records Sync made durable end (the
	// cursor is never saved past it). durable <= pub <= the end written.
	pub, durable       cursor
	pubPos, durablePos logpos.Position // lastPos at each
	pending            int             // records after the cursor that are published
	unpub              int             // records appended since the last publish
	syncErr            error           // a failed sync: nothing counts as durable until Rollback
	cur                cursor          // the sender's head, in memory
	peeked             []int64         // byte length of each record the last Peek returned
	peekVoid           bool            // a rollback cut what the last Peek returned
	notify             chan struct{}
	enc                []byte // Append's encoding buffer
	// torn is set while the active segment may hold bytes past wSize: a
	// write cut short, or records rolled back, that could not be cut yet.
	// Nothing is written to the segment until they are cut.
	torn bool

	// The active segment's writes and every fsync, through these so that
	// tests can fail them.
	writeAt  func(f *os.File, b []byte, off int64) (int, error)
	truncate func(f *os.File, size int64) error
	fsync    func(f *os.File) error
	// holdSync and holdCursor, in test builds, make Sync and the cursor's
	// saver wait where an integration test kills the daemon.
	holdSync, holdCursor func()

	reported cursor // the last corrupt record logged, so a retried read logs it once

	smu sync.Mutex // one Sync (or Rollback) at a time

	saver
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
		fsync:    (*os.File).Sync,
		holdSync: testHold("sync"), holdCursor: testHold("cursor"),
	}
	segs, err := q.segments()
	if err != nil {
		return nil, err
	}
	q.loadCursor()
	if len(segs) == 0 {
		segs = []uint64{max(1, q.cur.Segment)}
	}
	f, good, last, err := q.openActive(segs)
	if err != nil {
		return nil, err
	}
	if len(segs) > 1 && good == 0 {
		// A segment started just before a crash (its opening marker never
		// reached the disk): the one before it holds the last position.
		f.Close()
		os.Remove(q.segPath(segs[len(segs)-1]))
		segs = segs[:len(segs)-1]
		if f, good, last, err = q.openActive(segs); err != nil {
			return nil, err
		}
	}
	end := cursor{Segment: q.wSeg, Offset: good}
	q.w, q.wSize, q.lastPos = f, good, last
	q.pub, q.durable, q.pubPos, q.durablePos = end, end, last, last
	if q.cur.Segment == 0 || q.cur.Segment < segs[0] {
		q.cur = cursor{Segment: segs[0]}
	}
	if !q.cursorInRange() {
		q.setCursorAside(fmt.Errorf("cursor %d:%d points past the queue's data", q.cur.Segment, q.cur.Offset))
		q.cur = cursor{Segment: segs[0]}
	}
	q.saved, q.first = q.cur, segs[0]
	n, err := q.countFrom(q.cur)
	if err != nil {
		f.Close()
		return nil, err
	}
	q.pending = n
	q.startSaver()
	return q, nil
}

// openActive opens the last of segs for appending, cutting a record torn by
// a crash mid-write: it was never synced, so the tailer has not
// checkpointed past it and will read its line again. good is where its
// intact records end, last the position of the last one.
func (q *Queue) openActive(segs []uint64) (f *os.File, good int64, last logpos.Position, err error) {
	q.wSeg = segs[len(segs)-1]
	f, err = fsutil.OpenFile(q.segPath(q.wSeg), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, 0, last, fmt.Errorf("open spool %s: %w", q.dir, err)
	}
	good, size, last, err := scanSegment(f)
	if err != nil {
		f.Close()
		return nil, 0, last, fmt.Errorf("open spool %s: %w", q.dir, err)
	}
	if good < size {
		q.log.Warn("spool: cutting a torn last record (a crash or power loss mid-write); its log line is read again",
			"file", q.segPath(q.wSeg), "offset", good, "bytes", size-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, 0, last, fmt.Errorf("open spool %s: %w", q.dir, err)
		}
	}
	return f, good, last, nil
}

// HighWater is the position of the last record the queue holds durably.
func (q *Queue) HighWater() logpos.Position {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.durablePos
}

// Close saves the cursor (as far as the records are durable) and releases
// the files. Appends, syncs and the sender have stopped.
func (q *Queue) Close() error {
	q.stopSaver()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return nil
	}
	if q.torn {
		q.cutLocked() // else the next Open cuts the torn tail
	}
	for _, r := range q.rolled {
		r.f.Close()
	}
	q.rolled = nil
	err := q.w.Close()
	q.w = nil
	return err
}

// Append queues r unless a record at or after r.Pos is already held (the
// line was read again after a restart). The sender sees it after Publish;
// it is durable after the Sync that follows.
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
	q.unpub++
	return true, nil
}

// Publish hands the records appended since the last Publish to the sender,
// which may post them before they are durable.
func (q *Queue) Publish() {
	q.mu.Lock()
	defer q.mu.Unlock()
	end := cursor{Segment: q.wSeg, Offset: q.wSize}
	if q.pub == end {
		return
	}
	q.pub, q.pubPos = end, q.lastPos
	q.pending += q.unpub
	q.unpub = 0
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Sync makes every published record durable: one fsync of each segment
// written since the last Sync, and of the directory when a segment was
// started. Appends and the sender go on meanwhile. After a failure nothing
// counts as durable until Rollback (data whose fsync failed is taken as not
// written, even if a later fsync succeeds).
func (q *Queue) Sync() error {
	q.smu.Lock()
	defer q.smu.Unlock()
	if q.holdSync != nil {
		q.mu.Lock()
		work := q.syncErr == nil && q.durable.less(q.pub)
		q.mu.Unlock()
		if work {
			q.holdSync()
		}
	}
	q.mu.Lock()
	if q.syncErr != nil {
		err := q.syncErr
		q.mu.Unlock()
		return err
	}
	target, targetPos := q.pub, q.pubPos
	if !q.durable.less(target) {
		q.mu.Unlock()
		return nil
	}
	var files []*os.File
	for _, r := range q.rolled {
		files = append(files, r.f)
	}
	if target.Segment == q.wSeg {
		files = append(files, q.w)
	}
	dirty := q.dirty
	q.dirty = false
	q.mu.Unlock()

	var err error
	for _, f := range files {
		if err = q.fsync(f); err != nil {
			err = fmt.Errorf("spool %s: fsync: %w", q.dir, err)
			break
		}
	}
	if err == nil && dirty {
		err = fsutil.SyncDir(q.dir)
	}

	q.mu.Lock()
	if err != nil {
		q.syncErr, q.dirty = err, q.dirty || dirty
		q.mu.Unlock()
		return err
	}
	q.durable, q.durablePos = target, targetPos
	// The rolled segments before the durable one are complete and synced:
	// their files close. (A rollback may still reopen the durable one.)
	for len(q.rolled) > 0 && q.rolled[0].seg < target.Segment {
		q.rolled[0].f.Close()
		q.rolled = q.rolled[1:]
	}
	q.mu.Unlock()
	q.wakeSaver()
	return nil
}

// Rollback cuts every record that is not durable: those appended since the
// last Publish, and, after a failed Sync, those published since the last
// good one. The tailer reads their lines again. A record cut after the
// sender posted it is posted again then: a repeat, never a loss.
func (q *Queue) Rollback() {
	q.smu.Lock()
	defer q.smu.Unlock()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.w == nil {
		return
	}
	to := q.durable
	cutPublished := to.less(q.pub)
	if to.Segment < q.wSeg {
		q.dropSegmentsAfterLocked(to.Segment)
	}
	if q.wSize != to.Offset {
		q.torn = true
	}
	q.wSize = to.Offset
	// Cutting frees space and needs none. Should it fail, nothing is
	// written to the segment until it succeeds (Append tries again).
	q.cutLocked()
	q.lastPos, q.pub, q.pubPos = q.durablePos, to, q.durablePos
	q.unpub = 0
	q.syncErr = nil
	if cutPublished {
		// Records the sender may hold were cut: it starts again from what
		// is left, and what it posted of them repeats.
		if to.less(q.cur) {
			q.cur = to
		}
		q.peeked, q.peekVoid = nil, true
		if n, err := q.countFrom(q.cur); err == nil {
			q.pending = n
		}
	}
}

// dropSegmentsAfterLocked removes the segments after seg (started since the
// last good Sync) and makes seg the active one again.
func (q *Queue) dropSegmentsAfterLocked(seg uint64) {
	var keep *os.File
	for _, r := range q.rolled {
		if r.seg == seg {
			keep = r.f
			continue
		}
		r.f.Close()
	}
	q.w.Close()
	for s := seg + 1; s <= q.wSeg; s++ {
		if err := os.Remove(q.segPath(s)); err != nil && !os.IsNotExist(err) {
			q.log.Warn("spool: cannot remove a segment rolled back", "file", q.segPath(s), "err", err)
		}
	}
	q.rolled, q.wSeg, q.dirty = nil, seg, true
	if keep == nil {
		var err error
		if keep, err = fsutil.OpenFile(q.segPath(seg), os.O_RDWR, 0); err != nil {
			// Appends fail until the next start repairs the queue.
			q.log.Error("spool: cannot reopen the last durable segment after a rollback", "file", q.segPath(seg), "err", err)
			keep, _ = os.Open(os.DevNull)
		}
	}
	q.w = keep
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

// Ready is signalled after Publish made new records available.
func (q *Queue) Ready() <-chan struct{} { return q.notify }

// Len is the number of published records not acknowledged yet.
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
	q.mu.Lock()
	at := q.cur
	q.mu.Unlock()
	out, outLens, _, err := q.head(at, max, maxBytes)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	q.peeked, q.peekVoid = outLens, false
	q.mu.Unlock()
	return out, nil
}

// PeekMore returns up to max records that follow those the sender holds:
// the ones Peek and PeekMore returned that Ack has not removed yet. So a
// sender that keeps what one message could not take reads each record
// once. Like Peek, it stays in one segment file; it returns none when the
// held records end the segment, or a rollback cut them.
func (q *Queue) PeekMore(max, maxBytes int) ([]Record, error) {
	q.mu.Lock()
	if q.peekVoid {
		q.mu.Unlock()
		return nil, nil
	}
	at := q.cur
	for _, l := range q.peeked {
		at.Offset += l
	}
	q.mu.Unlock()
	out, outLens, _, err := q.head(at, max, maxBytes)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.peekVoid {
		return nil, nil
	}
	q.peeked = append(q.peeked, outLens...)
	return out, nil
}

// Trim moves the cursor past what holds no event at the head: markers and
// corrupt records before the next record, and segments delivered to their
// end, whose files are deleted once the cursor past them is saved. It
// reports whether it moved; the sender calls it when Peek found nothing.
func (q *Queue) Trim() (bool, error) {
	moved := false
	for {
		q.mu.Lock()
		cur, pubSeg := q.cur, q.pub.Segment
		q.mu.Unlock()
		out, _, skip, err := q.head(cur, 16, 1<<20)
		if err != nil {
			return moved, err
		}
		if len(out) > 0 || cur.Segment >= pubSeg && skip == 0 {
			if moved {
				q.wakeSaver()
			}
			return moved, nil
		}
		next := cursor{Segment: cur.Segment, Offset: cur.Offset + skip}
		if skip == 0 { // this segment is fully delivered: the next one starts
			next = cursor{Segment: cur.Segment + 1}
		}
		q.mu.Lock()
		if q.cur != cur { // a rollback moved it meanwhile
			q.mu.Unlock()
			return moved, nil
		}
		q.cur = next
		q.mu.Unlock()
		moved = true
	}
}

// head reads the records at cur. lens[i] is how far acknowledging out[i]
// moves the cursor: a marker or corrupt record before a record is
// acknowledged with it. skip is the length of such lines at the end of what
// was read with no record after them.
func (q *Queue) head(cur cursor, max, maxBytes int) (out []Record, lens []int64, skip int64, err error) {
	q.mu.Lock()
	pub := q.pub
	q.mu.Unlock()
	limit := int64(-1)
	switch {
	case cur.Segment == pub.Segment:
		limit = pub.Offset
	case cur.Segment > pub.Segment:
		return nil, nil, 0, nil
	}
	if limit >= 0 && cur.Offset >= limit {
		return nil, nil, 0, nil
	}
	recs, recLens, err := q.readSegment(cur, limit, max, maxBytes)
	if err != nil {
		return nil, nil, 0, err
	}
	out, lens = make([]Record, 0, len(recs)), make([]int64, 0, len(recs))
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

// ErrRolledBack is Ack's answer when a rollback cut the records the sender
// holds (a failed sync): they are queued again, and read again from the
// head with Peek.
var ErrRolledBack = errors.New("spool: the records peeked were rolled back")

// Ack removes the first n records returned by the last Peek (and
// PeekMore). The cursor is written by the queue's saver once those records
// are durable, so a crash before then repeats them.
func (q *Queue) Ack(n int) error {
	q.mu.Lock()
	if q.peekVoid {
		q.mu.Unlock()
		return ErrRolledBack
	}
	if n > len(q.peeked) {
		q.mu.Unlock()
		return fmt.Errorf("spool %s: ack %d of %d peeked records", q.dir, n, len(q.peeked))
	}
	var adv int64
	for _, l := range q.peeked[:n] {
		adv += l
	}
	q.peeked = q.peeked[n:]
	q.cur.Offset += adv
	q.pending -= n
	q.mu.Unlock()
	q.wakeSaver()
	return nil
}

// segFile is a segment rolled away from, still open.
type segFile struct {
	seg uint64
	f   *os.File
}

// less orders positions in the queue.
func (c cursor) less(d cursor) bool {
	return c.Segment < d.Segment || c.Segment == d.Segment && c.Offset < d.Offset
}

func minCursor(a, b cursor) cursor {
	if b.less(a) {
		return b
	}
	return a
}
