package oauthsrv

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

const (
	adminUser = "admin"
	realm     = `Basic realm="auditfwd admin", charset="UTF-8"`

	// failBurst wrong passwords from one address are answered at once; after
	// that one more attempt is allowed every failEvery.
	failBurst = 5
	failEvery = 10 * time.Second
	// maxTracked bounds the per-address limiters kept in memory.
	maxTracked = 4096
)

// authorize checks the Basic credentials. It writes the refusal and returns
// false when the request may not go on.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) bool {
	ip := clientIP(r)
	now := s.now()
	if wait := s.failures.blocked(ip, now); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		s.message(w, http.StatusTooManyRequests, "Too many failed logins",
			"Too many wrong passwords from your address. Wait "+strconv.Itoa(int(wait.Seconds()+0.999))+
				" seconds and try again.")
		return false
	}
	user, pass, ok := r.BasicAuth()
	if ok && equal(user, adminUser) && equal(pass, s.o.Password) {
		return true
	}
	if ok {
		s.failures.fail(ip, now)
		// Never the password, and not the user name either: people type
		// passwords into the wrong box.
		s.log.Warn("admin login failed", "remote", ip, "user_ok", equal(user, adminUser), "path", r.URL.Path)
	}
	w.Header().Set("WWW-Authenticate", realm)
	s.message(w, http.StatusUnauthorized, "Login required",
		"The auditfwd admin page needs the admin password (user name: admin).")
	return false
}

// equal compares in time independent of the contents and the lengths.
func equal(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// clientIP is the peer address. Behind the gateway's proxy that is the proxy,
// so a brute force slows everyone down: the price of not trusting headers a
// client can forge.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// failLimiter keeps a token bucket of failed logins per address.
type failLimiter struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newFailLimiter() *failLimiter { return &failLimiter{m: make(map[string]*rate.Limiter)} }

// blocked reports how long ip must wait before its next attempt (0: go on).
func (f *failLimiter) blocked(ip string, now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	lim := f.m[ip]
	if lim == nil {
		return 0
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(failEvery))
}

func (f *failLimiter) fail(ip string, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lim := f.m[ip]
	if lim == nil {
		if len(f.m) >= maxTracked {
			f.prune(now)
		}
		lim = rate.NewLimiter(rate.Every(failEvery), failBurst)
		f.m[ip] = lim
	}
	lim.AllowN(now, 1)
}

// prune forgets addresses whose bucket has refilled; if that is not enough
// (a wide attack), it forgets all of them rather than grow without bound.
func (f *failLimiter) prune(now time.Time) {
	for ip, lim := range f.m {
		if lim.TokensAt(now) >= failBurst {
			delete(f.m, ip)
		}
	}
	if len(f.m) >= maxTracked {
		clear(f.m)
	}
}
