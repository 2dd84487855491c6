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
	"io"
	"os"
	"sync"

	"github.com/auditfwd/auditfwd/internal/tailer"
)

// Queue is a FIFO of Records in a directory. Append/Sync are called by one
// goroutine (the tailer's), Peek/Ack by another (the sender's).
type Queue struct {
	dir          string
	segmentBytes int64

	mu       sync.Mutex
	w        *os.File // active segment, append only
	wSeg     uint64
	wSize    int64 // bytes written to the active segment
	synced   int64 // bytes of the active segment known durable: readers stop here
	lastPos  tailer.Position
	pending  int // records after the cursor that are synced
	unsynced int // records appended since the last sync
	cur      cursor
	peeked   []int64 // byte length of each record the last Peek returned
	notify   chan struct{}
	dirty    bool
	enc      []byte // Append's encoding buffer

	cmu  sync.Mutex // the cursor file
	cf   *os.File   // open after the first save
	cseq uint64     // sequence number of the last cursor slot written
}

// Open opens (or creates) the queue in dir, repairing a torn last record.
func Open(dir string) (*Queue, error) { return open(dir, SegmentBytes) }

func open(dir string, segmentBytes int64) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	q := &Queue{dir: dir, segmentBytes: segmentBytes, notify: make(chan struct{}, 1)}
	segs, err := q.segments()
	if err != nil {
		return nil, err
	}
	if err := q.loadCursor(segs); err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		segs = []uint64{max(1, q.cur.Segment)}
	}
	q.wSeg = segs[len(segs)-1]
	f, err := os.OpenFile(q.segPath(q.wSeg), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	// Drop a record torn by a crash mid-write: it was never synced, so the
	// tailer has not checkpointed past it and will read its line again.
	good, last, err := scanSegment(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	if err := f.Truncate(good); err != nil {
		f.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	q.w, q.wSize, q.synced, q.lastPos = f, good, good, last
	if q.cur.Segment == 0 || q.cur.Segment < segs[0] {
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
	if q.wSize >= q.segmentBytes {
		if err := q.rollLocked(); err != nil {
			return false, err
		}
	}
	q.enc = appendRecord(q.enc[:0], r)
	line := q.enc
	if _, err := q.w.Write(line); err != nil {
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
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.dirty {
		return nil
	}
	if err := q.w.Sync(); err != nil {
		return fmt.Errorf("spool %s: fsync: %w", q.dir, err)
	}
	q.synced = q.wSize
	q.pending += q.unsynced
	q.unsynced = 0
	q.dirty = false
	select {
	case q.notify <- struct{}{}:
	default:
	}
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
// spans two segment files.
func (q *Queue) Peek(max, maxBytes int) ([]Record, error) {
	for {
		q.mu.Lock()
		cur, wSeg, synced := q.cur, q.wSeg, q.synced
		q.mu.Unlock()
		limit := int64(-1)
		if cur.Segment == wSeg {
			limit = synced
		}
		var recs []Record
		var lens []int64
		if limit < 0 || cur.Offset < limit {
			var err error
			if recs, lens, err = q.readSegment(cur, limit, max, maxBytes); err != nil {
				return nil, err
			}
		}
		// A marker opens a segment; it is acknowledged with the record after it.
		var out []Record
		var outLens []int64
		var carry int64
		for i, r := range recs {
			if r.Marker {
				carry += lens[i]
				continue
			}
			out = append(out, r)
			outLens = append(outLens, lens[i]+carry)
			carry = 0
		}
		if len(out) == 0 && (cur.Segment < wSeg || carry > 0) {
			next := cursor{Segment: cur.Segment, Offset: cur.Offset + carry}
			if carry == 0 { // this segment is fully delivered: the next one starts
				next = cursor{Segment: cur.Segment + 1}
			}
			q.mu.Lock()
			q.cur = next
			q.mu.Unlock()
			if err := q.saveCursor(next); err != nil {
				return nil, err
			}
			if next.Segment != cur.Segment {
				os.Remove(q.segPath(cur.Segment))
			}
			continue
		}
		q.mu.Lock()
		q.peeked = outLens
		q.mu.Unlock()
		return out, nil
	}
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
