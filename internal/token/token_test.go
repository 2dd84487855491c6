package token

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRefusesAnUnprotectedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "slack-token.json")
	if err := Save(path, Token{AccessToken: "xoxb-1", TeamName: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(path); err != nil || got.AccessToken != "xoxb-1" {
		t.Fatalf("a 0600 file: %+v %v", got, err)
	}
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660} {
		os.Chmod(path, mode)
		_, err := Load(path)
		if !errors.Is(err, ErrUnprotected) || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: %v, want ErrUnprotected with the chmod that fixes it", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "xoxb-1") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
	os.Chmod(path, 0o600)
	link := filepath.Join(dir, "link.json")
	os.Symlink(path, link)
	if _, err := Load(link); !errors.Is(err, ErrUnprotected) {
		t.Errorf("a symbolic link: %v, want ErrUnprotected", err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Skipf("cannot chown (not root): %v", err)
	}
	if _, err := Load(path); !errors.Is(err, ErrUnprotected) || !strings.Contains(err.Error(), "chown ") {
		t.Errorf("owned by uid 65534: %v, want ErrUnprotected with a chown", err)
	}
}
