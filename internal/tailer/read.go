package tailer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/auditfwd/auditfwd/internal/event"
)

// drain reads of from its position to the current end of the file, handing
// over every complete line. With final, a last line without a newline is
// complete too (the file will not grow any more).
func (t *Tailer) drain(ctx context.Context, of *openFile, final bool) error {
	max := t.opts.MaxLineBytes
	read := false // anything at all in this call
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if of.skipping {
			m, err := of.f.ReadAt(t.buf, of.scan)
			if i := bytes.IndexByte(t.buf[:m], '\n'); i >= 0 {
				of.scan += int64(i + 1)
				of.off, of.skipping = of.scan, false
				t.h.Skip(event.KindOversized, of.pos())
				continue
			}
			of.scan += int64(m)
			t.uncommit += int64(m)
			if m == 0 || err == io.EOF {
				if final && of.scan > of.off {
					of.off, of.skipping = of.scan, false
					t.h.Skip(event.KindOversized, of.pos())
				}
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s: %w", of.name, err)
			}
			continue
		}

		if of.n == len(t.buf) {
			if of.n > max {
				of.skipping, of.scan, of.n = true, of.off+int64(of.n), 0
				continue
			}
			grown := make([]byte, min(2*len(t.buf), max+1))
			copy(grown, t.buf[:of.n])
			t.buf = grown
		}
		room := len(t.buf) - of.n
		m, err := of.f.ReadAt(t.buf[of.n:], of.off+int64(of.n))
		if err != nil && err != io.EOF {
			return fmt.Errorf("read %s: %w", of.name, err)
		}
		read = read || m > 0
		t.uncommit += int64(m)
		end := of.n + m
		start := 0
		for start < end {
			if t.buf[start] == 0 { // copytruncate's NUL padding: never an event
				s := start
				for s < end && t.buf[s] == 0 {
					s++
				}
				of.off += int64(s - start)
				start = s
				of.padding = true
				continue
			}
			i := bytes.IndexByte(t.buf[start:end], '\n')
			if i < 0 {
				break
			}
			line := t.buf[start : start+i]
			of.off += int64(i + 1)
			start += i + 1
			t.emit(of, line)
		}
		of.n = copy(t.buf, t.buf[start:end])
		if of.n == 0 {
			of.scan = of.off
		}
		if m == 0 {
			if final && of.n > 0 {
				line := t.buf[:of.n]
				of.off += int64(of.n)
				of.n = 0
				t.emit(of, line)
			}
			if final && of.padding {
				of.padding = false
				t.h.Skip(event.KindMalformed, of.pos())
			}
			of.scan = of.off
			of.n = 0 // a partial line is read again, whole, next time
			if !read && len(t.buf) > idleBuffer {
				// Nothing new since the last call: idle. The
				// buffer holds nothing (of.n is 0).
				t.buf = make([]byte, min(idleBuffer, max+1))
			}
			return nil
		}
		if m == room && len(t.buf) < min(readBuffer, max+1) {
			// The read filled the buffer: a backlog. Larger reads
			// for the rest of it.
			grown := make([]byte, min(readBuffer, max+1))
			copy(grown, t.buf[:of.n])
			t.buf = grown
		}
		if (t.uncommit >= t.opts.CommitBytes || t.fault != nil) && t.cur == of {
			// A backlog: its events go out as it is read, and are made
			// durable behind the reading. While commits fail, each buffer
			// read is committed: a retry that fails again has read one
			// buffer of the backlog, not CommitBytes of it.
			if err := t.commitFollowing(); err != nil {
				return err
			}
		}
	}
}

// emit hands over one physical line. NUL padding before it was already cut
// off: the line is counted once, as what follows the padding is.
func (t *Tailer) emit(of *openFile, line []byte) {
	of.padding = false
	if len(line) > t.opts.MaxLineBytes {
		t.h.Skip(event.KindOversized, of.pos())
		return
	}
	t.h.Line(line, of.pos())
}

// lastLineEnd is where start_at: end begins: after the last complete line,
// so a line being written right now is read whole.
func lastLineEnd(f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	size := fi.Size()
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, _ := f.ReadAt(buf[:end-start], start)
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}
