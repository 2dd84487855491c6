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
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/auditfwd/auditfwd/internal/event"
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

	// Mention is who the event pings, as the rules said when it was routed.
	Mention []string `json:"mention,omitempty"`
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

// The cursor lives in cursorFile: two fixed-size text slots, each a JSON
// object with a sequence number and a CRC, written in place by turns and
// made durable with fdatasync. A write torn by a crash spoils only the slot
// being written: the other one still holds the previous cursor, which repeats
// at most the message that was in flight. Replacing a file (temp file, fsync,
// rename, directory fsync) after every Slack post cost the sender more than
// the post itself during a backlog. The file is created whole, atomically.
const (
	cursorFile       = "cursor"
	legacyCursorFile = "cursor.json" // before the slots; read once, then removed
	cursorSlotBytes  = 128
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

func (q *Queue) saveCursor(c cursor) error {
	q.cmu.Lock()
	defer q.cmu.Unlock()
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
			os.Remove(filepath.Join(q.dir, legacyCursorFile))
			created = true
		} else if err != nil {
			return fmt.Errorf("spool %s: cursor: %w", q.dir, err)
		}
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("spool %s: cursor: %w", q.dir, err)
		}
		q.cf = f
		if created {
			return nil // it holds c already
		}
		os.Remove(filepath.Join(q.dir, legacyCursorFile)) // left by a crash right after the creation
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

func (q *Queue) loadCursor(segs []uint64) error {
	data, err := os.ReadFile(filepath.Join(q.dir, cursorFile))
	if err == nil {
		found := false
		for i := 0; (i+1)*cursorSlotBytes <= len(data); i++ {
			c, seq, ok := decodeSlot(data[i*cursorSlotBytes : (i+1)*cursorSlotBytes])
			if ok && (!found || seq > q.cseq) {
				q.cur, q.cseq, found = c, seq, true
			}
		}
		if !found {
			return fmt.Errorf("open spool %s: cursor: no valid slot in %s", q.dir, cursorFile)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("open spool %s: %w", q.dir, err)
	}
	data, err = os.ReadFile(filepath.Join(q.dir, legacyCursorFile))
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

// readSegment reads records from c up to limit (-1: end of file). The
// records' events alias one buffer read for this call.
func (q *Queue) readSegment(c cursor, limit int64, max, maxBytes int) ([]Record, []int64, error) {
	f, err := os.Open(q.segPath(c.Segment))
	if err != nil {
		return nil, nil, fmt.Errorf("spool %s: %w", q.dir, err)
	}
	defer f.Close()
	end := int64(1 << 62)
	if limit >= 0 {
		end = limit
	}
	var (
		recs   []Record
		lens   []int64
		total  int
		buf    []byte // unread bytes: buf[start:]
		start  int
		off    = c.Offset // file offset of buf[len(buf)]
		eof    bool
		target string // the previous record's, shared when equal
	)
	for len(recs) < max {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			if eof || off >= end {
				break
			}
			// Read on, keeping the partial record: a digest's worth of
			// records at once, more for a record longer than that.
			chunk := max64(min(readChunk, max64(4<<10, int64(max)*512)), int64(2*(len(buf)-start)))
			chunk = min(chunk, end-off)
			nb := make([]byte, len(buf)-start, len(buf)-start+int(chunk))
			copy(nb, buf[start:])
			n, err := f.ReadAt(nb[len(nb):cap(nb)], off)
			if err != nil && err != io.EOF {
				return nil, nil, fmt.Errorf("spool %s: %w", q.dir, err)
			}
			buf, start, off = nb[:len(nb)+n], 0, off+int64(n)
			eof = n == 0 || err == io.EOF
			continue
		}
		line := buf[start : start+i+1]
		start += i + 1
		rec, ok := decodeRecord(line[:len(line)-1], target)
		if !ok {
			if err := json.Unmarshal(line, &rec); err != nil {
				return nil, nil, fmt.Errorf("spool %s: corrupt record at %d:%d: %w", q.dir, c.Segment, c.Offset, err)
			}
		}
		if !rec.Marker && total > 0 && total+len(rec.Event) > maxBytes {
			break
		}
		recs = append(recs, rec)
		lens = append(lens, int64(len(line)))
		if !rec.Marker {
			total += len(rec.Event)
		}
		target = rec.Target
	}
	return recs, lens, nil
}

// readChunk is how much of a segment one read takes: about a digest.
const readChunk = 32 << 10

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// decodeRecord decodes a record line (without its newline) exactly as encode
// lays it out, as json.Unmarshal would, without reflection; ok is false for
// any other layout or doubt (markers, escaped targets, an event that is not a
// valid JSON object), and json.Unmarshal decides then. The event aliases line;
// the target is prevTarget when equal (records share a few targets).
func decodeRecord(line []byte, prevTarget string) (r Record, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"pos":{"gen":`))
	if !ok {
		return r, false
	}
	var gen, off uint64
	if gen, rest, ok = cutUint(rest); !ok {
		return r, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"offset":`)); !ok {
		return r, false
	}
	if off, rest, ok = cutUint(rest); !ok || off > 1<<63-1 {
		return r, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`},"target":"`)); !ok {
		return r, false
	}
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return r, false
	}
	target := rest[:q]
	for _, c := range target {
		if c < 0x20 || c == '\\' {
			return r, false
		}
	}
	if !utf8.Valid(target) {
		return r, false
	}
	rest = rest[q+1:]
	rest, r.Alert = bytes.CutPrefix(rest, []byte(`,"alert":true`))
	if r.Mention, rest, ok = cutMention(rest); !ok {
		return r, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"event":`)); !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return r, false
	}
	ev := rest[: len(rest)-1 : len(rest)-1]
	if ev[0] != '{' || ev[len(ev)-1] != '}' {
		return r, false
	}
	if kind, _ := event.Classify(ev); kind == event.KindMalformed {
		return r, false
	}
	r.Pos = tailer.Position{Gen: gen, Offset: int64(off)}
	if r.Target = prevTarget; string(target) != prevTarget {
		r.Target = string(target)
	}
	r.Event = ev
	return r, true
}

// appendMention writes the mention list as encode lays it out.
func appendMention(b []byte, mention []string) []byte {
	if len(mention) == 0 {
		return b
	}
	m, _ := json.Marshal(mention)
	b = append(b, `,"mention":`...)
	return append(b, m...)
}

// cutMention takes the mention list appendMention wrote off the front of
// b, if there is one; ok is false when it is not plain (json.Unmarshal
// decides then).
func cutMention(b []byte) (mention []string, rest []byte, ok bool) {
	rest, found := bytes.CutPrefix(b, []byte(`,"mention":[`))
	if !found {
		return nil, b, true
	}
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return nil, b, false
	}
	for item := range bytes.SplitSeq(rest[:end], []byte(",")) {
		s, open := bytes.CutPrefix(item, []byte(`"`))
		s, closed := bytes.CutSuffix(s, []byte(`"`))
		if !open || !closed || len(s) == 0 || !plainJSONString(string(s)) {
			return nil, b, false
		}
		mention = append(mention, string(s))
	}
	return mention, rest[end+1:], true
}

// cutUint takes a decimal number as encode writes it (no sign, no leading
// zero) off the front of b.
func cutUint(b []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 1 && b[0] == '0' {
		return 0, b, false
	}
	n, err := strconv.ParseUint(string(b[:i]), 10, 64)
	if err != nil {
		return 0, b, false
	}
	return n, b[i:], true
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

func encode(r Record) []byte { return appendRecord(nil, r) }

// appendRecord appends r's line to b.
func appendRecord(b []byte, r Record) []byte {
	b = append(b, `{"pos":{"gen":`...)
	b = strconv.AppendUint(b, r.Pos.Gen, 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Pos.Offset, 10)
	b = append(b, '}')
	if r.Marker {
		b = append(b, `,"marker":true`...)
	}
	b = append(b, `,"target":`...)
	if plainJSONString(r.Target) {
		b = append(b, '"')
		b = append(b, r.Target...)
		b = append(b, '"')
	} else {
		t, _ := json.Marshal(r.Target)
		b = append(b, t...)
	}
	if r.Alert {
		b = append(b, `,"alert":true`...)
	}
	b = appendMention(b, r.Mention)
	b = append(b, `,"event":`...)
	b = append(b, bytes.TrimSpace(r.Event)...)
	return append(b, "}\n"...)
}

// plainJSONString reports whether json.Marshal would write s as it is,
// between quotes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
