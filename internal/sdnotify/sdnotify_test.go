package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeSystemd is the receiving end of NOTIFY_SOCKET, as systemd has it.
type fakeSystemd struct {
	t    *testing.T
	conn *net.UnixConn
}

// listen creates a unixgram socket in a temporary directory and points
// NOTIFY_SOCKET at it. The watchdog variables are cleared; tests that want
// the watchdog set them.
func listen(t *testing.T) *fakeSystemd {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return &fakeSystemd{t: t, conn: conn}
}

// next waits up to 10 s for the next notification.
func (f *fakeSystemd) next() string {
	f.t.Helper()
	msg, ok := f.read(time.Now().Add(10 * time.Second))
	if !ok {
		f.t.Fatal("no notification within 10s")
	}
	return msg
}

// pending returns a notification already queued on the socket, without waiting.
func (f *fakeSystemd) pending() (string, bool) {
	f.t.Helper()
	return f.read(time.Now())
}

func (f *fakeSystemd) read(deadline time.Time) (string, bool) {
	f.t.Helper()
	if err := f.conn.SetReadDeadline(deadline); err != nil {
		f.t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _, err := f.conn.ReadFromUnix(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return "", false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return string(buf[:n]), true
}

func TestStateNotifications(t *testing.T) {
	sd := listen(t)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"Ready", Ready, "READY=1"},
		{"Stopping", Stopping, "STOPPING=1"},
	} {
		if err := tc.call(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := sd.next(); got != tc.want {
			t.Errorf("%s sent %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestReloadingCarriesMonotonicTimestamp(t *testing.T) {
	sd := listen(t)
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(sd.next(), "\n")
	if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
		t.Fatalf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=…", lines)
	}
	usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
	if err != nil || usec <= 0 {
		t.Fatalf("MONOTONIC_USEC %q is not a positive integer", lines[1])
	}
}

func TestNoSocketIsANoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for name, call := range map[string]func() error{
		"Ready": Ready, "Reloading": Reloading, "Stopping": Stopping,
	} {
		if err := call(); err != nil {
			t.Errorf("%s without NOTIFY_SOCKET: %v", name, err)
		}
	}
}

func TestUnreachableSocketIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent.sock"))
	if err := Ready(); err == nil {
		t.Fatal("Ready to a socket nobody listens on: want an error")
	}
}

// enableWatchdog asks for a 20 ms watchdog, so pings come every 10 ms.
func enableWatchdog(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "20000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
}

// runWatchdog starts Watchdog and returns a function that stops it and
// waits until it has returned.
func runWatchdog(t *testing.T, healthy func() bool) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Watchdog(ctx, healthy)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Watchdog did not return after its context was cancelled")
		}
	}
	t.Cleanup(stop)
	return stop
}

func TestWatchdogPings(t *testing.T) {
	sd := listen(t)
	enableWatchdog(t)
	stop := runWatchdog(t, func() bool { return true })
	for i := 0; i < 3; i++ {
		if got := sd.next(); got != "WATCHDOG=1" {
			t.Fatalf("ping %d: got %q, want WATCHDOG=1", i, got)
		}
	}
	stop()
	// Only pings were sent.
	for {
		msg, ok := sd.pending()
		if !ok {
			break
		}
		if msg != "WATCHDOG=1" {
			t.Fatalf("got %q, want only WATCHDOG=1", msg)
		}
	}
}

func TestWatchdogNilHealthyPings(t *testing.T) {
	sd := listen(t)
	enableWatchdog(t)
	runWatchdog(t, nil)
	if got := sd.next(); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", got)
	}
}

func TestWatchdogSkipsPingsWhileUnhealthy(t *testing.T) {
	sd := listen(t)
	enableWatchdog(t)
	asked := make(chan struct{}, 100)
	stop := runWatchdog(t, func() bool {
		asked <- struct{}{}
		return false
	})
	// Wait until Watchdog has decided three times, then stop it. Pings are
	// written synchronously, so any it sent are queued on the socket by now.
	for i := 0; i < 3; i++ {
		select {
		case <-asked:
		case <-time.After(10 * time.Second):
			t.Fatalf("healthy was asked %d times within 10s, want 3", i)
		}
	}
	stop()
	if msg, ok := sd.pending(); ok {
		t.Fatalf("unhealthy daemon sent %q", msg)
	}
}

func TestWatchdogResumesWhenHealthyAgain(t *testing.T) {
	sd := listen(t)
	enableWatchdog(t)
	// Unhealthy for the first two checks, healthy from the third on.
	var calls atomic.Int32
	runWatchdog(t, func() bool { return calls.Add(1) >= 3 })
	if got := sd.next(); got != "WATCHDOG=1" {
		t.Fatalf("got %q, want WATCHDOG=1", got)
	}
	// The ping is written after the check that allowed it has returned.
	if n := calls.Load(); n < 3 {
		t.Fatalf("pinged after %d health checks; the first two said unhealthy", n)
	}
}

func TestWatchdogOff(t *testing.T) {
	for _, tc := range []struct{ name, usec, pid string }{
		{"no WATCHDOG_USEC", "", ""},
		{"malformed WATCHDOG_USEC", "soon", ""},
		{"another process's watchdog", "20000", strconv.Itoa(os.Getpid() + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd := listen(t)
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			done := make(chan struct{})
			go func() {
				defer close(done)
				Watchdog(context.Background(), func() bool { return true })
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Watchdog kept running with the watchdog off")
			}
			if msg, ok := sd.pending(); ok {
				t.Fatalf("sent %q with the watchdog off", msg)
			}
		})
	}
}
