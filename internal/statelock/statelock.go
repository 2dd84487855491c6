// Package statelock makes one process the owner of a state directory: an
// exclusive flock on a lock file that holds the owner's pid. The kernel
// releases it on any exit, kill -9 included, so there is nothing to clean up.
// It knows nothing about what the directory holds.
package statelock

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// FileName is the lock file inside the state directory.
const FileName = "auditfwd.lock"

// Lock is a held state directory.
type Lock struct{ f *os.File }

// HeldError says who owns the directory.
type HeldError struct {
	Dir string
	Pid int // 0 when the owner's pid could not be read
}

func (e *HeldError) Error() string {
	if e.Pid == 0 {
		return fmt.Sprintf("state_dir %s is in use by another process (is another `auditfwd run` going? `systemctl status auditfwd`)", e.Dir)
	}
	return fmt.Sprintf("state_dir %s is in use by pid %d (is another `auditfwd run` going? `systemctl status auditfwd`, `ps -p %d`)", e.Dir, e.Pid, e.Pid)
}

// Acquire takes dir's lock without waiting. It fails with *HeldError when
// another process holds it.
func Acquire(dir string) (*Lock, error) {
	path := filepath.Join(dir, FileName)
	f, err := fsutil.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state_dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Dir: dir, Pid: readPid(path)}
		}
		return nil, fmt.Errorf("lock state_dir %s: %w", path, err)
	}
	// Fixed width, written in place: it fits the block the file already has,
	// so a full disk does not keep the owner from saying who it is.
	pid := fmt.Appendf(nil, "%-19d\n", os.Getpid())
	if _, err := f.WriteAt(pid, 0); err == nil {
		f.Truncate(int64(len(pid)))
	}
	return &Lock{f: f}, nil
}

// Release gives the directory up (exiting does too).
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

func readPid(path string) int {
	data, err := fsutil.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
	if err != nil {
		return 0
	}
	return pid
}
