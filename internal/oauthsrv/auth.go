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
)

const (
	adminUser = "admin"
	realm     = `Basic realm="auditfwd admin", charset="UTF-8"`
)

// authorize checks the Basic credentials. It writes the refusal and returns
// false when the request may not go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	client := s.clientIP(r)
	now := s.now()
	user, pass, ok := r.BasicAuth()
	if !ok {
		// A browser's first request carries no password: not a guess.
		if ref := s.failures.blocked(client, now); ref.wait > 0 {
			s.tooMany(w, ref)
			return false
		}
		s.challenge(w)
		return false
	}
	ref, done := s.failures.attempt(client, now)
	if ref.wait > 0 {
		// The password is not even compared: a guesser learns nothing.
		s.tooMany(w, ref)
		return false
	}
	if equal(user, adminUser) && equal(pass, s.o.Password) {
		done(true)
		return true
	}
	fails := done(false)
	// Never the password, and not the user name either: people type
	// passwords into the wrong box.
	s.log.Warn("admin login failed", "remote", client, "failures", fails, "user_ok", equal(user, adminUser), "path", r.URL.Path)
	s.challenge(w)
	return false
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
	if ref.global {
		text = "Too many wrong passwords were tried on this admin page from many addresses, so new logins are paused. Wait " +
			secs + " seconds and try again; a browser address that logged in before is still let in."
		s.globalLog.Do(s.now(), func() {
			s.log.Warn("admin logins paused: wrong passwords from many addresses exceed the ceiling; addresses that logged in before are still let in")
		})
	}
	s.message(w, http.StatusTooManyRequests, "Too many failed logins", text)
}

// equal compares in time independent of the contents and the lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// clientIP is who is on the other end: the peer address, or, when the peer
// is one of admin.trusted_proxies, the address that proxy saw, from
// X-Forwarded-For. A forged header from anybody else is ignored. IPv6
// clients are grouped by /64, the block one host usually holds.
func (s *Server) clientIP(r *http.Request) string {
	peer, ok := remoteAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr
	}
	client := peer
	if s.trusted(peer) {
		client = s.forwardedFor(r, peer)
	} else if len(s.o.TrustedProxies) == 0 && peer.IsLoopback() && r.Header.Get("X-Forwarded-For") != "" {
		s.proxyHint.Do(s.now(), func() {
			s.log.Warn("admin requests arrive through a proxy, but admin.trusted_proxies is empty: every visitor has the proxy's address, so one person's wrong passwords slow down everybody's logins",
				"fix", "set admin.trusted_proxies to the proxy's address, e.g. [127.0.0.1/32] (docs/slack-setup.md)")
		})
	}
	if client.Is6() {
		p, _ := client.Prefix(64)
		return p.String()
	}
	return client.String()
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
