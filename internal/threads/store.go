package threads

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// Journal is the Records of state_dir: a file with one JSON line per
// change, the thread as it now is or a tombstone for a forgotten one; the
// last line for a key wins. Save appends and fsyncs before it returns, so
// a crash repeats at most the message in flight and never starts a second
// thread for a parent that was recorded. The file is rewritten whole
// (atomically) when it has grown to twice what it holds, and after a failed
// write. Safe for concurrent use.
type Journal struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	f       *os.File        // the journal, open for appending
	lines   int             // lines in the file
	live    map[string]bool // keys (mapKey) the file holds a thread for
	rewrite bool            // the file must be rewritten before the next append (a failed write, lines to drop)
	// unsaved holds the lines whose write failed, by key (a nil line: a
	// tombstone): the next rewrite includes them.
	unsaved map[string][]byte
}

// journalLine is one line of the journal.
type journalLine struct {
	Thread
	Forget bool `json:"forget,omitempty"` // a tombstone: the thread of Channel and Key is forgotten
}

// OpenJournal is the journal at path; Load reads it.
func OpenJournal(path string, log *slog.Logger) *Journal {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Journal{path: path, log: log, live: map[string]bool{}, unsaved: map[string][]byte{}}
}

// Load reads the journal. It never fails: a file that cannot be read, or
// holds lines that cannot be decoded, is reported, set aside (renamed
// *.corrupt-UNIXTIME) and replaced by what was intact; a torn last line (a
// crash mid-append) is dropped.
func (j *Journal) Load(context.Context) ([]Thread, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	byKey, order, lines, bad, torn, err := j.read()
	if err != nil || bad > 0 {
		aside := fmt.Sprintf("%s.corrupt-%d", j.path, time.Now().Unix())
		if rerr := os.Rename(j.path, aside); rerr != nil {
			aside = "(could not be moved aside: " + rerr.Error() + ")"
		}
		j.log.Error("thread state unusable in part; keeping the intact threads (events of the others start new threads)",
			"file", j.path, "err", err, "bad_lines", bad, "kept", len(byKey), "moved_to", aside)
		// The file is gone: what was intact is written anew.
		for k, line := range byKey {
			j.unsaved[k] = line
		}
		j.rewrite = true
	}
	j.lines = lines
	out := make([]Thread, 0, len(byKey))
	for _, k := range order {
		var t Thread
		if json.Unmarshal(byKey[k], &t) == nil {
			out = append(out, t)
			j.live[k] = true
		}
	}
	if j.rewrite {
		// Now: the file holds nothing until it is written.
		if err := j.rewriteLocked(); err != nil {
			j.log.Error("cannot write the thread state; retrying with the next change", "file", j.path, "err", err)
		}
	}
	if j.lines > len(j.live) || torn {
		// Drop what was replaced or forgotten (or a torn line, which an
		// append would continue) with the next write, after the table
		// forgot what is past its window.
		j.rewrite = true
	}
	return out, nil
}

// read decodes the file: the last line of each key (tombstones remove
// it), the keys in the order of their last line, how many lines there were,
// how many lines that are not a torn last line could not be decoded, and
// whether there was a torn last line.
func (j *Journal) read() (byKey map[string][]byte, order []string, lines, bad int, torn bool, err error) {
	byKey = map[string][]byte{}
	data, err := fsutil.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return byKey, nil, 0, 0, false, nil
	}
	if err != nil {
		return byKey, nil, 0, 0, false, fmt.Errorf("read thread state: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		// The last line was cut by a crash mid-append: it was never
		// acknowledged, so its message may repeat; it is not a fault.
		j.log.Warn("thread state: dropping a torn last line (a crash mid-write); its message may repeat", "file", j.path)
		data, torn = data[:i+1], true
	}
	seen := map[string]int{} // key → index of its last line
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		lines++
		var l journalLine
		if json.Unmarshal(line, &l) != nil || l.Key == "" || l.Channel == "" {
			bad++
			continue
		}
		k := mapKey(l.Channel, l.Key)
		seen[k] = lines
		if l.Forget {
			delete(byKey, k)
			continue
		}
		byKey[k] = bytes.Clone(line)
	}
	for k := range byKey {
		order = append(order, k)
	}
	slices.SortFunc(order, func(a, b string) int { return seen[a] - seen[b] })
	return byKey, order, lines, bad, torn, nil
}

// Save records t, durably.
func (j *Journal) Save(_ context.Context, t Thread) error {
	line, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("thread state: %w", err)
	}
	k := mapKey(t.Channel, t.Key)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.live[k] = true
	return j.writeLocked(k, line, true)
}

// Forget writes a tombstone for the thread of channel and key, without
// waiting for the disk: the next Save's fsync covers it. When the file is
// to be rewritten anyway, the rewrite leaves the thread out.
func (j *Journal) Forget(_ context.Context, channel, key string) error {
	k := mapKey(channel, key)
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.live[k] {
		return nil
	}
	delete(j.live, k)
	if j.rewrite {
		return nil
	}
	line, err := json.Marshal(struct {
		Channel string `json:"channel"`
		Key     string `json:"key"`
		Forget  bool   `json:"forget"`
	}{channel, key, true})
	if err != nil {
		return fmt.Errorf("thread state: %w", err)
	}
	return j.writeLocked(k, line, false)
}

// writeLocked appends line (the record of k), or rewrites the file when
// it must or has grown to twice what it holds.
func (j *Journal) writeLocked(k string, line []byte, sync bool) error {
	if j.rewrite || j.lines > 2*len(j.live)+1024 {
		j.unsaved[k] = line
		return j.rewriteLocked()
	}
	if err := j.appendLocked(append(line, '\n'), sync); err != nil {
		j.unsaved[k] = line
		return err
	}
	return nil
}

func (j *Journal) appendLocked(line []byte, sync bool) error {
	if j.f == nil {
		f, err := fsutil.OpenFile(j.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			j.rewrite = true
			return fmt.Errorf("thread state: %w", err)
		}
		j.f = f
	}
	if _, err := j.f.Write(line); err != nil {
		j.rewrite = true // a partial line may be left: start afresh next time
		return fmt.Errorf("thread state %s: %w", j.path, err)
	}
	j.lines++
	if !sync {
		return nil
	}
	if err := j.f.Sync(); err != nil {
		j.rewrite = true
		return fmt.Errorf("thread state %s: fsync: %w", j.path, err)
	}
	return nil
}

// rewriteLocked replaces the file with one line per thread it holds (and
// the lines whose write failed), atomically.
func (j *Journal) rewriteLocked() error {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
	byKey, _, _, _, _, err := j.read()
	if err != nil {
		j.rewrite = true
		return err
	}
	for k, line := range j.unsaved {
		var l journalLine
		if line == nil || json.Unmarshal(line, &l) != nil || l.Forget {
			delete(byKey, k)
			continue
		}
		byKey[k] = line
	}
	for k := range byKey {
		if !j.live[k] {
			delete(byKey, k)
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		buf.Write(byKey[k])
		buf.WriteByte('\n')
	}
	if err := fsutil.WriteFileAtomic(j.path, buf.Bytes(), 0o600); err != nil {
		j.rewrite = true
		return fmt.Errorf("thread state: %w", err)
	}
	j.rewrite = false
	j.lines = len(keys)
	clear(j.unsaved)
	return nil
}

// Close closes the journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
