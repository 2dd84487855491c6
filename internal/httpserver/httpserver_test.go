package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEveryTimeoutIsSet(t *testing.T) {
	srv := New(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is %v: a client could hold a connection forever", name, d)
		}
	}
}

// An idle keep-alive connection is closed by the server once IdleTimeout has
// passed. The timeout is shortened so the test is quick; the bound on the
// wait is generous so a busy machine does not fail it.
func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
	srv.IdleTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Close {
		t.Fatal("the server closed the connection at once; the test needs a keep-alive connection")
	}
	start := time.Now()
	conn.SetReadDeadline(start.Add(30 * time.Second))
	_, err = br.ReadByte()
	if !errors.Is(err, io.EOF) && (err == nil || !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("idle connection: read returned %v, want EOF (closed by the server)", err)
	}
	t.Logf("idle connection closed after %v (IdleTimeout %v)", time.Since(start).Round(time.Millisecond), srv.IdleTimeout)
}

func TestListenAddressInUseSaysAnotherAuditfwdMayRun(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, err = Listen("metrics.listen", taken.Addr().String(), MetricsMaxConns)
	if err == nil {
		t.Fatal("listening twice on one address succeeded")
	}
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	for _, want := range []string{"metrics.listen: ", "address already in use", "another auditfwd may be running", "systemctl status auditfwd", "sport = :" + port} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// A listener serves at most its cap of connections at once; the next one
// is served as soon as one of them closes.
func TestListenerCapsConnections(t *testing.T) {
	const limit = 4
	ln, err := Listen("admin.listen", "127.0.0.1:0", limit)
	if err != nil {
		t.Fatal(err)
	}
	srv := New(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }))
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	var idle []net.Conn
	for range limit {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// The fifth connection is queued by the kernel, not served.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection beyond the cap was served")
	}
	idle[0].Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("once a slot is free the queued connection is served: %v %v", resp, err)
	}
}

func TestCapIsAShareOfTheFileLimit(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if got := connCap(int(rl.Cur)); got != int(rl.Cur/fileShare) {
		t.Errorf("connCap(%d) = %d, want an eighth of the file limit", rl.Cur, got)
	}
	if got := connCap(8); got != 8 {
		t.Errorf("connCap(8) = %d, want 8", got)
	}
}
