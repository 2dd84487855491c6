package delivery

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

// OpenDeadLetters counts the entries already in path, per channel.
func OpenDeadLetters(path string) (*DeadLetters, error) {
	d := &DeadLetters{path: path, counts: map[string]int{}}
	entries, err := readDeadLetters(path)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		d.counts[e.Channel]++
	}
	return d, nil
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
	f, err := fsutil.OpenFile(d.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	defer f.Close()
	if _, err := f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	for _, e := range entries {
		d.counts[e.Channel]++
	}
	return nil
}

// Redeliver offers every dead letter in path to send once, and keeps those
// send refuses. It returns how many were sent and kept.
func Redeliver(path string, send func(DeadLetter) error) (sent, kept int, err error) {
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return 0, 0, err
	}
	defer unlock()
	entries, err := readDeadLetters(path)
	if err != nil {
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

func readDeadLetters(path string) ([]DeadLetter, error) {
	f, err := fsutil.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	defer f.Close()
	var out []DeadLetter
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e DeadLetter
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("read dead letters %s:%d: %w", path, n, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read dead letters %s: %w", path, err)
	}
	return out, nil
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
