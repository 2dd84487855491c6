package main

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// fakeNotifySocket is systemd's end of NOTIFY_SOCKET.
type fakeNotifySocket struct {
	conn *net.UnixConn
	msgs chan string
}

func listenNotify(t *testing.T) (*fakeNotifySocket, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &fakeNotifySocket{conn: conn, msgs: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(f.msgs)
				return
			}
			f.msgs <- string(buf[:n])
		}
	}()
	return f, path
}

// waitFor returns the first datagram containing want, failing after timeout.
func (f *fakeNotifySocket) waitFor(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-f.msgs:
			if !ok {
				t.Fatalf("notify socket closed before %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from auditfwd within %v", want, timeout)
		}
	}
}

func TestSystemdNotifyReadyWatchdogReloadStop(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	sock, path := listenNotify(t)
	d := newDaemon(t, s, testenv.Options{Env: []string{"NOTIFY_SOCKET=" + path, "WATCHDOG_USEC=1000000"}})
	d.Append(testenv.Event("login.complete", 1)) // the log exists and has a line to tail
	d.Start()
	sock.waitFor(t, "READY=1", 10*time.Second)
	// WatchdogSec=1s → pings every 0.5 s; two in a row prove a loop.
	sock.waitFor(t, "WATCHDOG=1", 5*time.Second)
	sock.waitFor(t, "WATCHDOG=1", 5*time.Second)
	d.Signal(syscall.SIGHUP)
	sock.waitFor(t, "RELOADING=1", 5*time.Second)
	sock.waitFor(t, "READY=1", 5*time.Second)
	if code := d.Signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	sock.waitFor(t, "STOPPING=1", 5*time.Second)
}
