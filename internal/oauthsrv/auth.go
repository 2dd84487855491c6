package oauthsrv

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	adminUser = "admin"
	realm     = `Basic realm="auditfwd admin", charset="UTF-8"`
)

// authorize checks the Basic credentials. It writes the refusal and returns
// false when the request may not go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		// A browser's first request carries no password: not a guess, so
		// never refused by a limit, or the browser would never show its
		// login prompt.
		s.challenge(w)
		return false
	}
	now := s.now()
	client, who, global := s.allowances(r, now)
	ref, done := s.failures.attempt(who, global, now)
	ref.browser = !global
	if ref.wait > 0 {
		// The password is not even compared: a guesser learns nothing.
		s.tooMany(w, ref)
		return false
	}
	if equal(user, adminUser) && equal(pass, s.o.Password) {
		done(true)
		s.setKnownBrowser(w, r, now)
		return true
	}
	fails := done(false)
	// Never the password, and not the user name either: people type
	// passwords into the wrong box.
	s.unauthLog(func() {
		s.log.Warn("admin login failed", "remote", client, "failures", fails, "user_ok", equal(user, adminUser), "path", r.URL.Path,
			"known_browser", !global)
	})
	s.challenge(w)
	return false
}

// allowances are the buckets an attempt by r draws on: a known browser's
// own, or else its client address's (for IPv6 its /64 and its /48) and the
// ceiling for all clients (global). client names it in the log.
func (s *Server) allowances(r *http.Request, now time.Time) (client string, who []allowance, global bool) {
	l := s.failures.l
	if id, _, ok := s.knownBrowser(r, now); ok {
		return s.clientIP(r) + " (known browser)", []allowance{{key: "browser " + id, burst: l.burst, every: l.every}}, false
	}
	addr, ok := s.clientAddr(r)
	if !ok {
		return r.RemoteAddr, []allowance{{key: r.RemoteAddr, burst: l.burst, every: l.every}}, true
	}
	if !addr.Is6() {
		return addr.String(), []allowance{{key: addr.String(), burst: l.burst, every: l.every}}, true
	}
	p64, _ := addr.Prefix(64)
	p48, _ := addr.Prefix(48)
	return p64.String(), []allowance{
		{key: p64.String(), burst: l.burst, every: l.every},
		{key: p48.String(), burst: l.netBurst, every: l.netEvery},
	}, true
}

func (s *Server) challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", realm)
	s.message(w, http.StatusUnauthorized, "Login required",
		"The auditfwd admin page needs the admin password (user name: admin).")
}

func (s *Server) tooMany(w http.ResponseWriter, ref refusal) {
	secs := strconv.Itoa(int(ref.wait.Seconds() + 0.999))
	w.Header().Set("Retry-After", secs)
	text := "Too many wrong passwords from your address. Wait " + secs + " seconds and try again."
	if ref.browser {
		text = "Too many wrong passwords from this browser. Wait " + secs + " seconds and try again."
	}
	if ref.global {
		text = "Too many wrong passwords were tried on this admin page from many addresses, so logins from new browsers are paused. Wait " +
			secs + " seconds and try again; a browser that logged in here before is still let in."
		s.globalLog.Do(s.now(), func() {
			s.log.Warn("admin logins paused for new browsers: wrong passwords from many addresses exceed the ceiling; browsers that logged in before are still let in")
		})
	}
	s.message(w, http.StatusTooManyRequests, "Too many failed logins", text)
}

// equal compares in time independent of the contents and the lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// clientIP is who is on the other end, for the log: the client address
// (clientAddr), IPv6 clients by /64, the block one host usually holds.
func (s *Server) clientIP(r *http.Request) string {
	client, ok := s.clientAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if client.Is6() {
		p, _ := client.Prefix(64)
		return p.String()
	}
	return client.String()
}

// clientAddr is the peer address, or, when the peer is one of
// admin.trusted_proxies, the address that proxy saw, from X-Forwarded-For
// (forwardedFor). A forged header from anybody else is ignored.
func (s *Server) clientAddr(r *http.Request) (netip.Addr, bool) {
	peer, ok := remoteAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if s.trusted(peer) {
		return s.forwardedFor(r, peer), true
	}
	if len(s.o.TrustedProxies) == 0 && peer.IsLoopback() && r.Header.Get("X-Forwarded-For") != "" {
		s.proxyHint.Do(s.now(), func() {
			s.log.Warn("admin requests arrive through a proxy, but admin.trusted_proxies is empty: every visitor has the proxy's address, so one person's wrong passwords slow down everybody's logins",
				"fix", "set admin.trusted_proxies to the proxy's address, e.g. [127.0.0.1/32] (docs/slack-setup.md)")
		})
	}
	return peer, true
}

func (s *Server) trusted(a netip.Addr) bool {
	for _, p := range s.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// forwardedFor walks X-Forwarded-For from the right (the entry our proxy
// added) past every trusted proxy; the first other address is the client.
// Entries further left were written by the client and are never believed.
func (s *Server) forwardedFor(r *http.Request, peer netip.Addr) netip.Addr {
	client := peer
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := remoteAddr(strings.TrimSpace(hops[i]))
		if !ok {
			return client
		}
		client = a
		if !s.trusted(a) {
			return a
		}
	}
	return client
}

// remoteAddr parses "host:port", "[v6]:port" or a bare address.
func remoteAddr(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// everyMinute runs f at most once a minute: for log lines an attacker could
// otherwise repeat at will.
type everyMinute struct {
	mu   sync.Mutex
	last time.Time
}

func (e *everyMinute) Do(now time.Time, f func()) {
	e.mu.Lock()
	due := e.last.IsZero() || now.Sub(e.last) >= time.Minute
	if due {
		e.last = now
	}
	e.mu.Unlock()
	if due {
		f()
	}
}

// logGate lets through log lines that unauthenticated requests cause
// (wrong passwords, refused OAuth callbacks) at a bounded rate, so that a
// flood of them cannot push the daemon's own lines out of journald's rate
// limit; what it holds back is counted and said with the next line.
type logGate struct {
	mu         sync.Mutex
	lim        *rate.Limiter
	suppressed int
}

// unauthLogBurst lines at once, then one every unauthLogEvery.
const (
	unauthLogBurst = 10
	unauthLogEvery = 6 * time.Second
)

func newLogGate() *logGate {
	return &logGate{lim: rate.NewLimiter(rate.Every(unauthLogEvery), unauthLogBurst)}
}

// unauthLog runs f (which logs one line) if the gate allows it now.
func (s *Server) unauthLog(f func()) {
	g := s.logGate
	g.mu.Lock()
	if !g.lim.AllowN(s.now(), 1) {
		g.suppressed++
		g.mu.Unlock()
		return
	}
	n := g.suppressed
	g.suppressed = 0
	g.mu.Unlock()
	if n > 0 {
		s.log.Warn("log lines about unauthenticated admin requests were held back (too many)", "suppressed", n)
	}
	f()
}
