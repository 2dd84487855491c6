package oauthsrv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

func TestBrowserKeyIsMadeOnceAndKeptPrivate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "admin-browser.key")
	k1, err := LoadBrowserKey(path)
	if err != nil || len(k1) != browserKeyLen {
		t.Fatalf("first load: %d bytes, %v", len(k1), err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	k2, err := LoadBrowserKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: another key (%v): the cookie would not survive a restart", err)
	}
	os.Chmod(path, 0o644)
	if _, err := LoadBrowserKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("a 0644 key file: %v, want it refused with the chmod", err)
	}
	os.Chmod(path, 0o600)
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := LoadBrowserKey(path); err == nil || !strings.Contains(err.Error(), "rm "+path) {
		t.Errorf("a short key file: %v, want it refused with what to do", err)
	}
	os.Remove(path)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	os.Symlink(victim, path)
	if _, err := LoadBrowserKey(path); !errors.Is(err, fsutil.ErrSymlink) {
		t.Errorf("a symlinked key file: %v, want ErrSymlink", err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "keep" {
		t.Errorf("the symlink's target changed: %q", data)
	}
}
