package threads

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// MaxThreads bounds the table: past it, the thread untouched the longest is
// forgotten (its next event starts a new thread).
const MaxThreads = 10000

// Store is the table of threads, in memory and, unless it was made by
// Memory, in a journal file in state_dir: one JSON line per change (the
// thread as it now is), appended and fsynced before the caller acknowledges
// the spool, so a crash repeats at most the message in flight and never
// starts a second thread for a parent that was recorded. The journal is
// rewritten whole when it has grown to twice what it holds. Safe for
// concurrent use.
type Store struct {
	path string
	log  *slog.Logger
	max  int

	mu      sync.Mutex
	m       map[string]*Thread // by mapKey
	f       *os.File           // the journal, open for appending
	lines   int                // lines in the journal
	rewrite bool               // the journal must be rewritten before the next append (a failed write)
	evicted int                // threads forgotten for room since the last log line
}

func mapKey(channel, key string) string { return channel + "\x00" + key }

// Memory is a Store without a file (the dry run).
func Memory() *Store {
	return &Store{log: slog.New(slog.DiscardHandler), max: MaxThreads, m: map[string]*Thread{}}
}

// Open loads the journal at path. It never fails: a file that cannot be
// read, or holds lines that cannot be decoded, is reported, set aside
// (renamed *.corrupt-UNIXTIME) and replaced by what was intact; a torn last
// line (a crash mid-append) is dropped. Threads past their window are
// forgotten.
func Open(path string, log *slog.Logger, now time.Time) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, log: log, max: MaxThreads, m: map[string]*Thread{}}
	lines, bad, err := s.load(now)
	switch {
	case err != nil || bad > 0:
		aside := fmt.Sprintf("%s.corrupt-%d", path, now.Unix())
		if rerr := os.Rename(path, aside); rerr != nil {
			aside = "(could not be moved aside: " + rerr.Error() + ")"
		}
		log.Error("thread state unusable in part; keeping the intact threads (events of the others start new threads)",
			"file", path, "err", err, "bad_lines", bad, "kept", len(s.m), "moved_to", aside)
		s.rewrite = true
	case lines > len(s.m):
		s.rewrite = true // drop what was forgotten or replaced
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rewrite {
		if err := s.rewriteLocked(); err != nil {
			log.Error("cannot write the thread state; retrying with the next change", "file", path, "err", err)
		}
	}
	return s
}

// load reads the journal into s.m. bad counts lines that are not a torn
// last line and cannot be decoded.
func (s *Store) load(now time.Time) (lines, bad int, err error) {
	data, err := fsutil.ReadFile(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read thread state: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		// The last line was cut by a crash mid-append: it was never
		// acknowledged, so its message may repeat; it is not a fault.
		s.log.Warn("thread state: dropping a torn last line (a crash mid-write); its message may repeat", "file", s.path)
		data = data[:i+1]
	}
	for line := range bytes.Lines(data) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		lines++
		var t Thread
		if json.Unmarshal(line, &t) != nil || t.Key == "" || t.Channel == "" {
			bad++
			continue
		}
		s.m[mapKey(t.Channel, t.Key)] = &t // a later line replaces an earlier one
	}
	for k, t := range s.m {
		if t.Expired(now) {
			delete(s.m, k)
		}
	}
	return lines, bad, nil
}

// Get returns the thread key of channel, unless it is unknown or forgotten
// at now.
func (s *Store) Get(channel, key string, now time.Time) (Thread, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[mapKey(channel, key)]
	if !ok || t.Expired(now) {
		return Thread{}, false
	}
	return *t, true
}

// Put records t, durably unless the Store is Memory. The table holds t
// even when writing fails (the error says so): only a crash before the next
// successful write forgets it.
func (s *Store) Put(t Thread) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := mapKey(t.Channel, t.Key)
	if _, ok := s.m[k]; !ok && len(s.m) >= s.max {
		s.evictLocked(t.Touched)
	}
	s.m[k] = &t
	if s.path == "" {
		return nil
	}
	if s.rewrite || s.lines > 2*len(s.m)+1024 {
		return s.rewriteLocked()
	}
	line, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("thread state: %w", err)
	}
	return s.appendLocked(append(line, '\n'))
}

// evictLocked forgets the expired threads, or else the one untouched the
// longest, to make room for one more.
func (s *Store) evictLocked(now time.Time) {
	for k, t := range s.m {
		if t.Expired(now) {
			delete(s.m, k)
		}
	}
	if len(s.m) < s.max {
		return
	}
	var oldest string
	var at time.Time
	for k, t := range s.m {
		if oldest == "" || t.Touched.Before(at) {
			oldest, at = k, t.Touched
		}
	}
	delete(s.m, oldest)
	s.evicted++
	if s.evicted == 1 || s.evicted%1000 == 0 {
		s.log.Warn("thread state is full; forgetting the threads untouched the longest (their next events start new threads)",
			"max_threads", s.max, "forgotten", s.evicted)
	}
}

func (s *Store) appendLocked(line []byte) error {
	if s.f == nil {
		f, err := fsutil.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			s.rewrite = true
			return fmt.Errorf("thread state: %w", err)
		}
		s.f = f
	}
	if _, err := s.f.Write(line); err != nil {
		s.rewrite = true // a partial line may be left: start afresh next time
		return fmt.Errorf("thread state %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil {
		s.rewrite = true
		return fmt.Errorf("thread state %s: fsync: %w", s.path, err)
	}
	s.lines++
	return nil
}

// rewriteLocked replaces the journal with one line per thread, atomically.
func (s *Store) rewriteLocked() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		line, err := json.Marshal(s.m[k])
		if err != nil {
			return fmt.Errorf("thread state: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := fsutil.WriteFileAtomic(s.path, buf.Bytes(), 0o600); err != nil {
		s.rewrite = true
		return fmt.Errorf("thread state: %w", err)
	}
	s.rewrite = false
	s.lines = len(keys)
	return nil
}

// Count is how many threads of channel are open (not forgotten) at now:
// the admin page shows it.
func (s *Store) Count(channel string, now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.m {
		if t.Channel == channel && !t.Expired(now) {
			n++
		}
	}
	return n
}

// Close closes the journal.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
