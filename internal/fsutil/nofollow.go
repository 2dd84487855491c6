package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// ErrSymlink is wrapped by every error that refuses a symbolic link.
var ErrSymlink = errors.New("is a symbolic link, which auditfwd never follows in its state directory")

// The state directory belongs to the daemon's user; a symbolic link in it
// was planted by someone else and could point the daemon's writes at any
// file its user may write (docs/guarantees.md, "The state directory").
// These wrappers of the os functions of the same name refuse a path whose
// last component is a symbolic link (O_NOFOLLOW) instead of following it.
// The directories above it are checked once, at start, by statedir.

// OpenFile is os.OpenFile that never follows a symbolic link at path.
func OpenFile(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
	if err != nil {
		return nil, symlinkError(path, err)
	}
	return f, nil
}

// Open is os.Open that never follows a symbolic link at path.
func Open(path string) (*os.File, error) { return OpenFile(path, os.O_RDONLY, 0) }

// ReadFile is os.ReadFile that never follows a symbolic link at path.
func ReadFile(path string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// symlinkError turns the ELOOP of O_NOFOLLOW into an error that says what
// to do; other errors pass through unchanged (errors.Is(err,
// os.ErrNotExist) still works).
func symlinkError(path string, err error) error {
	if !errors.Is(err, syscall.ELOOP) {
		return err
	}
	if fi, lerr := os.Lstat(path); lerr != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return err
	}
	return &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w: remove it (rm %s) and find out who made it", ErrSymlink, path)}
}

// MkdirPrivate creates dir (and missing parents) with mode 0700 and checks
// that dir itself is a directory, not a symbolic link, owned by this
// process's user and not writable by group or others.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return checkPrivateDir(dir)
}

// checkPrivateDir reports, with the command that fixes it, a dir that is a
// symbolic link, is not a directory, belongs to another user or is
// writable by group or others.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &fs.PathError{Op: "check", Path: dir, Err: fmt.Errorf("%w: remove it (rm %s) and find out who made it", ErrSymlink, dir)}
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return CheckOwner(dir, fi, 0o022, "chmod go-w "+dir)
}

// CheckOwner refuses fi (the file at path) when it belongs to another user
// than this process's, or when its mode has any bit of forbidden (e.g.
// 0o022: writable by group or others). fix is the chmod that clears them.
func CheckOwner(path string, fi fs.FileInfo, forbidden fs.FileMode, fix string) error {
	if uid, ok := owner(fi); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s belongs to uid %d, not to auditfwd's user (uid %d): fix with `chown %d %s` (or run auditfwd as its owner)",
			path, uid, os.Geteuid(), os.Geteuid(), path)
	}
	if bad := fi.Mode().Perm() & forbidden; bad != 0 {
		return fmt.Errorf("%s has mode %04o, which lets other users %s it: fix with `%s`",
			path, fi.Mode().Perm(), what(bad), fix)
	}
	return nil
}

// owner is the uid that owns fi, when the platform says.
func owner(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}

func what(bits fs.FileMode) string {
	switch {
	case bits&0o022 != 0 && bits&0o044 != 0:
		return "read and change"
	case bits&0o022 != 0:
		return "change"
	default:
		return "read"
	}
}
