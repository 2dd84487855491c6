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
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/auditfwd/auditfwd/internal/fsutil"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// Record is one routed event waiting for one channel.
type Record struct {
	Pos    tailer.Position `json:"pos"`
	Target string          `json:"target"` // Slack channel as configured when routed
	Alert  bool            `json:"alert,omitempty"`
	Event  json.RawMessage `json:"event"`
	Marker bool            `json:"marker,omitempty"` // carries the last position across segments; not an event
}

// SegmentBytes is when a new segment file starts, so delivered data can be deleted.
const SegmentBytes = 8 << 20

type cursor struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
}

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

// Close releases the active segment.
func (q *Queue) Close() error {
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
	line := encode(r)
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

func (q *Queue) saveCursor(c cursor) error {
	data, _ := json.Marshal(c)
	if err := fsutil.WriteFileAtomic(filepath.Join(q.dir, "cursor.json"), data, 0o600); err != nil {
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	return nil
}

func (q *Queue) loadCursor(segs []uint64) error {
	data, err := os.ReadFile(filepath.Join(q.dir, "cursor.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open spool %s: %w", q.dir, err)
	}
	if err := json.Unmarshal(data, &q.cur); err != nil {
		return fmt.Errorf("open spool %s: cursor: %w", q.dir, err)
	}
	return nil
}

// rollLocked starts a new segment whose first line remembers the last position.
func (q *Queue) rollLocked() error {
	if q.dirty {
		if err := q.w.Sync(); err != nil {
			return fmt.Errorf("spool %s: fsync: %w", q.dir, err)
		}
	}
	next := q.wSeg + 1
	f, err := os.OpenFile(q.segPath(next), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	marker := encode(Record{Pos: q.lastPos, Marker: true, Event: json.RawMessage("null")})
	if _, err := f.Write(marker); err != nil {
		f.Close()
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	if err := fsutil.SyncDir(q.dir); err != nil {
		f.Close()
		return err
	}
	q.w.Close()
	q.w, q.wSeg, q.wSize = f, next, int64(len(marker))
	q.pending += q.unsynced
	q.unsynced = 0
	q.synced = q.wSize
	q.dirty = false
	return nil
}

func (q *Queue) segPath(n uint64) string {
	return filepath.Join(q.dir, fmt.Sprintf("%016d.jsonl", n))
}

func (q *Queue) segments() ([]uint64, error) {
	entries, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", q.dir, err)
	}
	var segs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jsonl")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil {
			segs = append(segs, n)
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i] < segs[j] })
	return segs, nil
}

// readSegment reads records from c up to limit (-1: end of file).
func (q *Queue) readSegment(c cursor, limit int64, max, maxBytes int) ([]Record, []int64, error) {
	f, err := os.Open(q.segPath(c.Segment))
	if err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", q.dir, err)
	}
	defer f.Close()
	var r io.Reader = io.NewSectionReader(f, c.Offset, 1<<62)
	if limit >= 0 {
		r = io.NewSectionReader(f, c.Offset, limit-c.Offset)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var recs []Record
	var lens []int64
	total := 0
	for len(recs) < max {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 || line[len(line)-1] != '\n' {
			break
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, nil, fmt.Errorf("spool %s: corrupt record at %d:%d: %w", q.dir, c.Segment, c.Offset, err)
		}
		if !rec.Marker && total > 0 && total+len(rec.Event) > maxBytes {
			break
		}
		recs = append(recs, rec)
		lens = append(lens, int64(len(line)))
		if !rec.Marker {
			total += len(rec.Event)
		}
		if err != nil {
			break
		}
	}
	return recs, lens, nil
}

func (q *Queue) countFrom(c cursor) (int, error) {
	segs, err := q.segments()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range segs {
		if s < c.Segment {
			continue
		}
		f, err := os.Open(q.segPath(s))
		if err != nil {
			return 0, fmt.Errorf("spool %s: %w", q.dir, err)
		}
		off := int64(0)
		if s == c.Segment {
			off = c.Offset
		}
		sc := bufio.NewScanner(io.NewSectionReader(f, off, 1<<62))
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			if !bytes.Contains(sc.Bytes()[:min(len(sc.Bytes()), 120)], []byte(`"marker":true`)) {
				n++
			}
		}
		f.Close()
	}
	return n, nil
}

// scanSegment returns the length of the complete records and the last position.
func scanSegment(f *os.File) (int64, tailer.Position, error) {
	var good int64
	var last tailer.Position
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var rec struct {
				Pos tailer.Position `json:"pos"`
			}
			if json.Unmarshal(line, &rec) != nil {
				return good, last, nil // torn or corrupt tail: cut here
			}
			good += int64(len(line))
			last = rec.Pos
		}
		if err == io.EOF {
			return good, last, nil
		}
		if err != nil {
			return 0, last, err
		}
	}
}

func encode(r Record) []byte {
	var b bytes.Buffer
	b.WriteString(`{"pos":{"gen":`)
	b.WriteString(strconv.FormatUint(r.Pos.Gen, 10))
	b.WriteString(`,"offset":`)
	b.WriteString(strconv.FormatInt(r.Pos.Offset, 10))
	b.WriteString(`}`)
	if r.Marker {
		b.WriteString(`,"marker":true`)
	}
	b.WriteString(`,"target":`)
	t, _ := json.Marshal(r.Target)
	b.Write(t)
	if r.Alert {
		b.WriteString(`,"alert":true`)
	}
	b.WriteString(`,"event":`)
	b.Write(bytes.TrimSpace(r.Event))
	b.WriteString("}\n")
	return b.Bytes()
}
