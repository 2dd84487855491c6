package main

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// withFileLimit makes d run under a file descriptor limit of n, as a unit
// with LimitNOFILE=n would.
func withFileLimit(t *testing.T, d *testenv.Daemon, n string) {
	t.Helper()
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Fatalf("prlimit (util-linux) is needed to run auditfwd under a low file limit: %v", err)
	}
	wrapper := filepath.Join(t.TempDir(), "auditfwd-nofile")
	script := "#!/bin/sh\nexec " + prlimit + " --nofile=" + n + ":" + n + " -- " + d.Bin + ` "$@"` + "\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	d.Bin = wrapper
}

// openIdle opens n TCP connections to addr that never send a byte (the
// probe's half-open sockets) and closes them when the test ends.
func openIdle(t *testing.T, addr string, n int) {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for i := range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("connection %d to %s: %v", i, addr, err)
		}
		conns = append(conns, c)
	}
}

// Thousands of connections that never send a request, to both listeners,
// while the daemon runs under a file limit of 1,024: its memory stays
// bounded, and delivery (which opens spool files) goes on without "too many
// open files".
func TestThousandsOfIdleConnectionsNeitherGrowMemoryNorStarveTheSpool(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	withFileLimit(t, d, "1024")
	d.Start()
	d.Append(testenv.Event("login.complete", 1))
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	before, _ := d.RSSBytes()

	openIdle(t, d.Admin, 3000)
	openIdle(t, d.Metrics, 1000)
	for i := 2; i < 12; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	waitEvents(t, s, idSecurity, 1, 12, 30*time.Second)
	after, _ := d.RSSBytes()
	t.Logf("RSS %.1f MB before, %.1f MB with 4,000 idle connections open", float64(before)/1e6, float64(after)/1e6)
	if grew := after - before; grew > 15<<20 {
		t.Errorf("4,000 idle connections grew the daemon's memory by %.1f MB, want it bounded (the listeners' caps)", float64(grew)/1e6)
	}
	if strings.Contains(d.Output(), "too many open files") {
		t.Errorf("the daemon ran out of file descriptors:\n%s", d.Output())
	}
	assertExactlyOnce(t, s, idSecurity, 1, 12)
}

// While the admin listener is full, /healthz on the metrics listener
// answers: each listener has its own cap.
func TestAFullAdminListenerLeavesMetricsAnswering(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	openIdle(t, d.Admin, 2000)
	c := &http.Client{Timeout: 5 * time.Second}
	for i := range 20 {
		resp, err := c.Get("http://" + d.Metrics + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("/healthz %d while the admin listener is full: %v %v", i, resp, err)
		}
		resp.Body.Close()
	}
}
