// Package httpserver owns what auditfwd's two listeners (metrics and the
// admin page) have in common: the timeouts that keep a slow or idle client
// from holding a connection open forever, a cap on connections served at
// once, and a listen error that says what to do. It knows nothing about
// what the handlers serve.
package httpserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"golang.org/x/net/netutil"
)

// Timeouts of every auditfwd listener. A scrape or a page is small: a client
// that takes longer than these is stuck or hostile.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 60 * time.Second
	// IdleTimeout closes a keep-alive connection nobody uses. Prometheus
	// scraping every 15 s keeps its connection; a forgotten one is closed.
	IdleTimeout = 30 * time.Second
)

// New returns a server for h with auditfwd's listener timeouts.
func New(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
	}
}

// Connections each listener serves at once. Further ones wait in the
// kernel's accept queue, costing the daemon neither memory nor a file
// descriptor, so thousands of idle or half-open sockets can neither grow
// its memory nor take the descriptors the spools need.
const (
	AdminMaxConns   = 64
	MetricsMaxConns = 16
	// fileShare: a listener never takes more than this fraction of the
	// process's file descriptor limit (RLIMIT_NOFILE).
	fileShare = 8
)

// Listen opens a TCP listener on addr for the config key (e.g.
// "metrics.listen") that serves at most maxConns connections at once (and
// at most an eighth of the file descriptor limit). When the address is
// taken it says that another auditfwd may be running and how to find out.
func Listen(key, addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return netutil.LimitListener(ln, connCap(maxConns)), nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		port := addr
		if _, p, perr := net.SplitHostPort(addr); perr == nil {
			port = p
		}
		return nil, fmt.Errorf("%s: %w: another auditfwd may be running (see `systemctl status auditfwd`, or `ss -ltnp 'sport = :%s'` for the process); stop it, or give this one other metrics.listen and admin.listen addresses", key, err, port)
	}
	return nil, fmt.Errorf("%s: %w", key, err)
}

// connCap is maxConns, lowered to a share of the file descriptor limit.
func connCap(maxConns int) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(maxConns*fileShare) {
		return max(4, int(rl.Cur/fileShare))
	}
	return maxConns
}
