package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenFileRefusesASymlinkAndLeavesItsTargetAlone(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []int{os.O_RDONLY, os.O_CREATE | os.O_RDWR | os.O_TRUNC, os.O_APPEND | os.O_WRONLY} {
		f, err := OpenFile(link, flag, 0o600)
		if err == nil {
			f.Close()
			t.Fatalf("flag %#x: opened a symbolic link", flag)
		}
		if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), "rm "+link) {
			t.Errorf("flag %#x: error %v, want ErrSymlink with the rm that fixes it", flag, err)
		}
	}
	if _, err := ReadFile(link); !errors.Is(err, ErrSymlink) {
		t.Errorf("ReadFile of a link: %v", err)
	}
	if data, _ := os.ReadFile(target); string(data) != "keep" {
		t.Errorf("target changed: %q", data)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a missing file: %v, want ErrNotExist", err)
	}
	if data, err := ReadFile(target); err != nil || string(data) != "keep" {
		t.Errorf("a plain file: %q %v", data, err)
	}
}

func TestMkdirPrivate(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "a", "b")
	if err := MkdirPrivate(fresh); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o700 {
		t.Errorf("mode %v, want 0700", fi.Mode().Perm())
	}
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	if err := MkdirPrivate(open); err == nil || !strings.Contains(err.Error(), "chmod go-w "+open) {
		t.Errorf("a 0777 directory: %v, want the chmod that fixes it", err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(fresh, link)
	if err := MkdirPrivate(link); !errors.Is(err, ErrSymlink) {
		t.Errorf("a link to a directory: %v, want ErrSymlink", err)
	}
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o700)
	if err := os.Chown(other, 65534, 65534); err != nil {
		t.Skipf("cannot chown (not root): %v", err)
	}
	if err := checkPrivateDir(other); err == nil || !strings.Contains(err.Error(), "chown") {
		t.Errorf("a directory of uid 65534: %v, want the chown that fixes it", err)
	}
}
