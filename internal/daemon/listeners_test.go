package daemon

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// Both listeners, metrics and the admin page, close a keep-alive
// connection nobody uses: the daemon as `auditfwd run` builds it, with the
// idle timeout injected short (httpserver's tests check the mechanism and
// that the real one is set).
func TestBothListenersCloseIdleConnections(t *testing.T) {
	const idle = 300 * time.Millisecond
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	metricsAddr, adminAddr := testenv.FreeAddr(t), testenv.FreeAddr(t)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`audit_log:
  path: %s
state_dir: %s
slack:
  api_url: http://127.0.0.1:1/api/
metrics:
  listen: %s
admin:
  listen: %s
`, logPath, filepath.Join(dir, "state"), metricsAddr, adminAddr)), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "")
	_, stop := runDaemon(t, cfg, Options{Version: "test", IdleTimeout: idle})
	defer stop()
	testenv.Eventually(t, 20*time.Second, "/readyz", func() bool {
		resp, err := http.Get("http://" + metricsAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	for _, addr := range []string{metricsAddr, adminAddr} {
		took, err := idleClose(addr, 30*idle)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if took < idle/2 {
			t.Errorf("%s: closed %v after the response, before the idle timeout (%v)", addr, took, idle)
		}
		t.Logf("%s: the idle keep-alive connection was closed after %v (idle timeout %v)", addr, took.Round(10*time.Millisecond), idle)
	}
}

// idleClose makes one keep-alive request to addr, then waits until the
// server closes the idle connection, and says how long that took.
func idleClose(addr string, bound time.Duration) (time.Duration, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		return 0, errors.New("the server closed the connection after the response; no keep-alive to test")
	}
	start := time.Now()
	conn.SetReadDeadline(start.Add(bound))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && (err == nil || !strings.Contains(err.Error(), "reset")) {
		return 0, fmt.Errorf("idle connection still open after %v: %v", bound, err)
	}
	return time.Since(start), nil
}

// runDaemon starts a daemon for cfg; stop cancels it and waits for Run to
// return, failing the test on an error from it.
func runDaemon(t *testing.T, cfg *config.Config, o Options) (d *Daemon, stop func()) {
	t.Helper()
	d, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx) }()
	return d, func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}
