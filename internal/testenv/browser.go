package testenv

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds the browser. CI installs Debian's chromium, so a missing
// browser fails the test rather than skipping it.
func ChromiumPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("AUDITFWD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install Debian's chromium (apt-get install -y chromium) or set AUDITFWD_CHROMIUM")
	return ""
}

// ArtifactDir is where screenshots go: $AUDITFWD_ARTIFACTS, or a test temp dir.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("AUDITFWD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Browser starts headless Chromium with a fresh profile (no network beyond
// loopback is needed or tried) and returns a tab's context, bounded by
// budget; it is closed when the test ends.
func Browser(t testing.TB, budget time.Duration) context.Context {
	t.Helper()
	// Everything Chromium writes goes into the test's directories: its
	// profile, and what it keeps in HOME (crash report settings, dconf)
	// and TMPDIR (its singleton socket, left behind when it is killed).
	// That TMPDIR has a short name of its own: a socket's path must fit in
	// 108 bytes, and a t.TempDir()'s may not leave room.
	home := t.TempDir()
	tmp, err := os.MkdirTemp("", "chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // --headless, --disable-background-networking, …
		chromedp.ExecPath(ChromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Env("HOME="+home, "XDG_CONFIG_HOME="+home+"/.config", "XDG_CACHE_HOME="+home+"/.cache", "TMPDIR="+tmp),
	)
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	return ctx
}
