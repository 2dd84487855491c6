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

	"github.com/auditfwd/auditfwd/internal/fsutil"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// SegmentBytes is when a new segment file starts, so delivered data can be deleted.
const SegmentBytes = 8 << 20

// rollLocked starts a new segment whose first line remembers the last
// position. Nothing waits for the disk here: the segment rolled away from,
// the new one and the directory are synced by the next Sync.
func (q *Queue) rollLocked() error {
	next := q.wSeg + 1
	f, err := fsutil.OpenFile(q.segPath(next), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	marker := encode(Record{Pos: q.lastPos, Marker: true, Event: json.RawMessage("null")})
	if _, err := q.writeAt(f, marker, 0); err != nil {
		// A segment that could not be started whole is removed: at the
		// next start the last segment must hold the last position.
		f.Close()
		os.Remove(q.segPath(next))
		return fmt.Errorf("spool %s: %w", q.dir, err)
	}
	q.rolled = append(q.rolled, segFile{seg: q.wSeg, f: q.w})
	q.w, q.wSeg, q.wSize = f, next, int64(len(marker))
	q.dirty = true
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
func (q *Queue) readSegment(c cursor, limit int64, most, maxBytes int) ([]Record, []int64, error) {
	f, err := fsutil.Open(q.segPath(c.Segment))
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
	for len(recs) < most {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			if eof || off >= end {
				break
			}
			// Read on, keeping the partial record: a digest's worth of
			// records at once, more for a record longer than that.
			chunk := max(min(readChunk, max(4<<10, int64(most)*512)), int64(2*(len(buf)-start)))
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
		at := cursor{Segment: c.Segment, Offset: off - int64(len(buf)-start) - int64(len(line))}
		torn, rec, err := parseLine(line[:len(line)-1], target, true)
		if len(torn) > 0 {
			// The remains of a write cut short: skipped on their own,
			// the record after them is read as any other.
			q.reportCorrupt(at, torn, errTorn)
			recs = append(recs, Record{corrupt: true})
			lens = append(lens, int64(len(torn)))
		}
		if err != nil {
			q.reportCorrupt(at, line, err)
			rec = Record{corrupt: true}
		}
		if !rec.Marker && total > 0 && total+len(rec.Event) > maxBytes {
			break
		}
		recs = append(recs, rec)
		lens = append(lens, int64(len(line)-len(torn)))
		if !rec.Marker {
			total += len(rec.Event)
		}
		target = rec.Target
	}
	return recs, lens, nil
}

// errTorn is why the remains of a write cut short are skipped.
var errTorn = errors.New("the first bytes of a record whose write was cut short (disk full or I/O error), followed by an intact record")

// readChunk is how much of a segment one read takes: about a digest.
const readChunk = 32 << 10

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
		f, err := fsutil.Open(q.segPath(s))
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
			// A corrupt record is skipped by the reader: not counted.
			if _, rec, err := parseLine(sc.Bytes(), "", false); err == nil && !rec.Marker {
				n++
			}
		}
		f.Close()
	}
	return n, nil
}

// scanSegment reads the active segment at start-up. good is the length up
// to the end of the last intact record: what follows is a torn write, cut.
// A corrupt record before it is kept (the reader skips and reports it).
func scanSegment(f *os.File) (good, size int64, last logpos.Position, err error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 64<<10)
	var off int64
	for {
		line, rerr := br.ReadBytes('\n')
		off += int64(len(line))
		if len(line) > 0 && line[len(line)-1] == '\n' {
			if _, rec, err := parseLine(line[:len(line)-1], "", false); err == nil {
				good, last = off, rec.Pos
			}
		}
		if rerr == io.EOF {
			return good, off, last, nil
		}
		if rerr != nil {
			return 0, off, last, rerr
		}
	}
}
