package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// Check refuses a state directory that another user could tamper with: the
// directory or one inside it that belongs to another user or is writable by
// group or others, or a symbolic link anywhere inside it (the daemon never
// makes one). The error names the path and the command that fixes it.
// state_dir itself may be a symbolic link the administrator made; what it
// points to is checked.
func (d Dir) Check() error {
	root := string(d)
	fi, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("state_dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("state_dir %s is not a directory", root)
	}
	if err := fsutil.CheckOwner(root, fi, 0o022, "chmod 0700 "+root); err != nil {
		return fmt.Errorf("state_dir refused: %w", err)
	}
	err = filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we looked
		}
		if err != nil {
			return err
		}
		if path == root {
			return nil
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s %w: remove it (rm %s) and find out who made it", path, fsutil.ErrSymlink, path)
		case e.IsDir():
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return fs.SkipDir
			}
			if err != nil {
				return err
			}
			return fsutil.CheckOwner(path, info, 0o022, "chmod 0700 "+path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state_dir refused: %w", err)
	}
	return nil
}
