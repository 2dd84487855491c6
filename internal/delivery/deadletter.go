package delivery

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// DeadLetter is one event Slack rejected for good, as stored in dead-letter.jsonl.
type DeadLetter struct {
	Time         time.Time       `json:"time"`
	Channel      string          `json:"channel"`
	SlackChannel string          `json:"slack_channel"`
	Reason       string          `json:"reason"`
	Hint         string          `json:"hint,omitempty"`
	Alert        bool            `json:"alert,omitempty"`
	Mention      []string        `json:"mention,omitempty"`
	Template     string          `json:"template,omitempty"` // the rule whose template shows it
	Event        json.RawMessage `json:"event"`
}

// DeadLetters is the dead-letter file. A lock file serialises the daemon's
// appends with `auditfwd redeliver` rewriting the file from another process.
type DeadLetters struct {
	path   string
	mu     sync.Mutex
	counts map[string]int
}

// OpenDeadLetters counts the entries already in path, per channel. Damage
// (a line torn by a crash or a full disk, a corrupt line) is a state fault:
// the damaged lines are set aside and logged through log, never a reason
// to stop (docs/guarantees.md).
func OpenDeadLetters(path string, log *slog.Logger) *DeadLetters {
	d := &DeadLetters{path: path, counts: map[string]int{}}
	var entries []DeadLetter
	if unlock, err := lockFile(path + ".lock"); err == nil {
		entries, _ = repairDeadLetters(path, log)
		unlock()
	} else if f, rerr := readDeadLetters(path); rerr == nil {
		// state_dir read-only or full: count what is there, repair later.
		entries = f.entries
	}
	for _, e := range entries {
		d.counts[e.Channel]++
	}
	return d
}

// Count is how many dead letters channel has (as of this process's view).
func (d *DeadLetters) Count(channel string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counts[channel]
}

// Append adds entries durably.
func (d *DeadLetters) Append(entries ...DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	unlock, err := lockFile(d.path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	var buf bytes.Buffer
	for _, e := range entries {
		line, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("dead letter: %w", err)
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	f, err := fsutil.OpenFile(d.path, os.O_APPEND|os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	data := buf.Bytes()
	// The remains of a write cut short must not swallow these entries: they
	// start on a line of their own (the remains are set aside as a damaged
	// line at the next start or redeliver).
	if last := make([]byte, 1); fi.Size() > 0 {
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			data = append([]byte{'\n'}, data...)
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Truncate(fi.Size()) // what was cut short; at worst a torn line, set aside later
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Truncate(fi.Size()) // data whose sync failed counts as not written
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	for _, e := range entries {
		d.counts[e.Channel]++
	}
	return nil
}

// Redeliver offers every dead letter in path to send once, and keeps those
// send refuses. It returns how many were sent and kept. Damaged lines are
// set aside first and reported through log, as the daemon does.
func Redeliver(path string, log *slog.Logger, send func(DeadLetter) error) (sent, kept int, err error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	entries, err := repairDeadLetters(path, log)
	if err != nil {
		// The damaged lines could not be kept elsewhere: rewriting the file
		// would lose them.
		return 0, 0, err
	}
	var keep bytes.Buffer
	for _, e := range entries {
		if serr := send(e); serr != nil {
			kept++
			line, _ := json.Marshal(e)
			keep.Write(line)
			keep.WriteByte('\n')
			continue
		}
		sent++
		// Rewrite after each success so a crash repeats at most one message.
		if err := rewriteRest(path, &keep, entries[sent+kept:]); err != nil {
			return sent, kept, err
		}
	}
	return sent, kept, fsutil.WriteFileAtomic(path, keep.Bytes(), 0o600)
}

func rewriteRest(path string, kept *bytes.Buffer, rest []DeadLetter) error {
	var buf bytes.Buffer
	buf.Write(kept.Bytes())
	for _, e := range rest {
		line, _ := json.Marshal(e)
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return fsutil.WriteFileAtomic(path, buf.Bytes(), 0o600)
}

// deadLetterFile is the dead-letter file as read: the entries with their
// lines as written, and the lines that are no dead letter.
type deadLetterFile struct {
	entries []DeadLetter
	lines   [][]byte // lines[i] holds entries[i], without its newline
	damaged []int    // 1-based numbers of the lines that are no dead letter
	bad     [][]byte // the damaged lines
	torn    bool     // the file does not end with a newline
}

func readDeadLetters(path string) (*deadLetterFile, error) {
	data, err := fsutil.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &deadLetterFile{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters %s: %w", path, err)
	}
	f := &deadLetterFile{torn: len(data) > 0 && data[len(data)-1] != '\n'}
	n := 0
	for line := range bytes.Lines(data) {
		n++
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e DeadLetter
		if err := json.Unmarshal(line, &e); err != nil || len(e.Event) == 0 {
			f.damaged = append(f.damaged, n)
			f.bad = append(f.bad, line)
			continue
		}
		f.entries = append(f.entries, e)
		f.lines = append(f.lines, line)
	}
	return f, nil
}

// repairDeadLetters reads path (its lock held) and sets damage aside: the
// damaged lines go to path.corrupt-<unix time>, the file keeps the intact
// entries as they were written, and log says so, naming both files. A file
// that cannot be read at all is moved aside whole. The error is not nil
// only when damage could not be set aside; the entries are returned anyway.
func repairDeadLetters(path string, log *slog.Logger) ([]DeadLetter, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	aside := fmt.Sprintf("%s.corrupt-%d", path, time.Now().Unix())
	f, err := readDeadLetters(path)
	if err != nil {
		if rerr := os.Rename(path, aside); rerr != nil {
			log.Error("dead-letter file unreadable and cannot be moved aside; new dead letters cannot be added to it", "file", path, "err", err, "move_err", rerr)
			return nil, fmt.Errorf("%w (and it cannot be moved aside: %w)", err, rerr)
		}
		log.Error("dead-letter file unreadable; moved aside, new dead letters go to a new file", "file", path, "err", err, "moved_to", aside)
		return nil, nil
	}
	if len(f.damaged) == 0 && !f.torn {
		return f.entries, nil
	}
	if len(f.damaged) > 0 {
		var bad bytes.Buffer
		for i, line := range f.bad {
			fmt.Fprintf(&bad, "%s:%d: %s\n", filepath.Base(path), f.damaged[i], line)
		}
		if err := fsutil.WriteFileAtomic(aside, bad.Bytes(), 0o600); err != nil {
			log.Error("dead-letter file has damaged lines that cannot be set aside yet; they stay and are skipped", "file", path, "lines", fmt.Sprint(f.damaged), "err", err)
			return f.entries, fmt.Errorf("set aside damaged lines %v of %s: %w", f.damaged, path, err)
		}
	}
	var good bytes.Buffer
	for _, line := range f.lines {
		good.Write(line)
		good.WriteByte('\n')
	}
	if err := fsutil.WriteFileAtomic(path, good.Bytes(), 0o600); err != nil {
		log.Error("dead-letter file has damaged lines that cannot be removed yet; they are skipped", "file", path, "lines", fmt.Sprint(f.damaged), "err", err)
		return f.entries, fmt.Errorf("rewrite %s without its damaged lines: %w", path, err)
	}
	if len(f.damaged) > 0 {
		log.Error("dead-letter file damaged (torn by a crash or a full disk, or corrupt): the damaged lines are set aside, the other dead letters are kept",
			"file", path, "lines", fmt.Sprint(f.damaged), "kept", len(f.entries), "moved_to", aside)
	}
	return f.entries, nil
}

func lockFile(path string) (func(), error) {
	f, err := fsutil.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
