package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
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
	_, err = Listen("metrics.listen", taken.Addr().String())
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
