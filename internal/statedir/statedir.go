// Package statedir knows the layout of auditfwd's state directory
// (state_dir, docs/configuration.md): which file holds what. Every other
// package asks it for a path instead of spelling a file name. It creates the
// directory and lists the spools; it never reads or writes their contents.
package statedir

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/auditfwd/auditfwd/internal/statelock"
)

// The names inside the state directory. They are part of the operator's
// contract (docs/guarantees.md): scripts, backups and runbooks name them.
const (
	CheckpointFile = "checkpoint.json"   // the tailer's position in the audit log
	DeadLetterFile = "dead-letter.jsonl" // events Slack rejected for good
	SpoolDir       = "spool"             // one delivery queue per channel: spool/<name>
	DBSpoolDir     = "spool-postgres"    // the same for audit_log.source: postgres, a buffer of the leader's
	TokenFile      = "slack-token.json"  // the bot token saved by the OAuth install
	ThreadsFile    = "threads.jsonl"     // Slack threads: key → channel ID, parent ts, state (docs/threads.md)
	LockFile       = statelock.FileName  // held by the one daemon that owns the directory
	BrowserKeyFile = "admin-browser.key" // signs the admin page's known-browser cookie
)

// Dir is a state directory.
type Dir string

// Create makes the directory (mode 0700: it holds the bot token) if it is
// missing, then checks that it can be trusted (Check).
func (d Dir) Create() error {
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	return d.Check()
}

// Lock makes this process the directory's one owner, before any of its
// state is read; a second daemon gets a *statelock.HeldError naming the pid.
func (d Dir) Lock() (*statelock.Lock, error) { return statelock.Acquire(string(d)) }

// Checkpoint is the tailer's checkpoint file.
func (d Dir) Checkpoint() string { return d.join(CheckpointFile) }

// DeadLetters is the dead-letter file.
func (d Dir) DeadLetters() string { return d.join(DeadLetterFile) }

// Threads is the thread state file.
func (d Dir) Threads() string { return d.join(ThreadsFile) }

// Token is where the OAuth install saves the bot token unless
// slack.bot_token_file names another file.
func (d Dir) Token() string { return d.join(TokenFile) }

// BrowserKey is the key that signs the admin page's known-browser cookie.
func (d Dir) BrowserKey() string { return d.join(BrowserKeyFile) }

// Spool is the queue directory of the channel name.
func (d Dir) Spool(name string) string { return d.Queues().Spool(name) }

// Spools lists the channels that have a queue on disk, configured or not
// (a channel removed from the config keeps draining).
func (d Dir) Spools() ([]string, error) { return d.Queues().List() }

// Queues is the file source's spool directory.
func (d Dir) Queues() Queues { return Queues(d.join(SpoolDir)) }

// DBQueues is the Postgres source's spool directory: its positions are the
// table's, never mixed with a log file's.
func (d Dir) DBQueues() Queues { return Queues(d.join(DBSpoolDir)) }

// Queues is a directory holding one spool per channel.
type Queues string

// Spool is the queue directory of the channel name.
func (q Queues) Spool(name string) string { return filepath.Join(string(q), name) }

// List lists the channels that have a queue in q.
func (q Queues) List() ([]string, error) {
	entries, err := os.ReadDir(string(q))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list spools: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

func (d Dir) join(name string) string { return filepath.Join(string(d), name) }
