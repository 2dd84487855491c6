package oauthsrv

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The OAuth callback cannot save the token (state_dir full): the page says
// so and why, the daemon is not told of a token it would lose on restart,
// and nothing half-written is left.
func TestCallbackOnFullStateDirSaysTokenNotSaved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs (the tests run as root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if _, err := filler.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	filler.Close()

	f := newFixture(t, func(o *Options) { o.TokenPath = filepath.Join(dir, "slack-token.json") })
	b := f.admin()
	state := b.startInstall()
	r := b.callback(state, "code-1")
	if r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("callback on a full disk: status %d, want 500; body %s", r.StatusCode, r.body)
	}
	if !strings.Contains(r.body, "token could not be saved") || !strings.Contains(r.body, "no space left on device") {
		t.Fatalf("the page does not say the token could not be saved and why:\n%s", r.body)
	}
	if n := len(f.daemon.connectedTokens()); n != 0 {
		t.Fatalf("the daemon was handed a token that is not on disk")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "filler" {
			t.Errorf("left behind in state_dir: %s", e.Name())
		}
	}
}
