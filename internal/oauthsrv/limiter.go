package oauthsrv

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits shape the login limiter; tests shrink or widen them.
type limits struct {
	// burst wrong passwords from one client are answered at once; after
	// that one more attempt is allowed every every.
	burst int
	every time.Duration
	// globalBurst and globalEvery cap wrong passwords from all clients
	// together, however many addresses an attacker has. Clients that logged
	// in before are not held to it.
	globalBurst int
	globalEvery time.Duration
	// maxTracked bounds the clients kept in memory.
	maxTracked int
	// maxKnown bounds the clients remembered for a good login, and knownTTL
	// is how long one is remembered.
	maxKnown int
	knownTTL time.Duration
}

// failBurst wrong passwords from one client are answered at once; after
// that one more attempt is allowed every failEvery.
const (
	failBurst = 5
	failEvery = 10 * time.Second
)

var defaultLimits = limits{
	burst: failBurst, every: failEvery,
	globalBurst: 10, globalEvery: time.Second,
	maxTracked: 4096,
	maxKnown:   64, knownTTL: 30 * 24 * time.Hour,
}

// bucket is an allowance of wrong passwords: golang.org/x/time/rate's
// token bucket, plus a count of the wrong ones for the log.
type bucket struct {
	lim   *rate.Limiter
	fails int // wrong passwords counted since the bucket was last full
}

func newBucket(burst int, every time.Duration) *bucket {
	return &bucket{lim: rate.NewLimiter(rate.Every(every), burst)}
}

// full reports whether the bucket holds its whole burst (nothing to remember).
func (b *bucket) full(now time.Time) bool {
	if b.lim.TokensAt(now) >= float64(b.lim.Burst()) {
		b.fails = 0
		return true
	}
	return false
}

// tokens is what the bucket holds at now.
func (b *bucket) tokens(now time.Time) float64 { return b.lim.TokensAt(now) }

// wait is how long until the bucket holds a whole token (0: it does).
func (b *bucket) wait(now time.Time) time.Duration {
	t := b.lim.TokensAt(now)
	if t >= 1 {
		return 0
	}
	return time.Duration((1 - t) * float64(time.Second) / float64(b.lim.Limit()))
}

// take takes one token at now; Cancel on the reservation (at the same now)
// gives it back.
func (b *bucket) take(now time.Time) *rate.Reservation { return b.lim.ReserveN(now, 1) }

// refusal says why an attempt may not be checked now.
type refusal struct {
	wait   time.Duration
	global bool // the ceiling for all clients, not this client's own limit
}

// loginLimiter slows down password guessing. Each attempt with a password
// takes a token from its client's bucket and, unless the client logged in
// before, one from a bucket shared by everybody; a right password gives
// them back, so only wrong ones count. Memory is bounded: when maxTracked
// clients are known, those whose bucket is full are forgotten first, then
// the least limited one that is not blocked; a blocked client is never
// forgotten, and when every tracked client is blocked, new clients share
// one overflow bucket.
type loginLimiter struct {
	l limits

	mu       sync.Mutex
	clients  map[string]*bucket
	overflow *bucket
	global   *bucket
	known    map[string]time.Time // client → last good login
}

func newLoginLimiter(l limits) *loginLimiter {
	return &loginLimiter{
		l:        l,
		clients:  make(map[string]*bucket),
		overflow: newBucket(l.burst, l.every),
		global:   newBucket(l.globalBurst, l.globalEvery),
		known:    make(map[string]time.Time),
	}
}

// blocked reports whether an attempt by client would be refused now,
// without taking anything.
func (f *loginLimiter) blocked(client string, now time.Time) refusal {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.clients[client]
	if b == nil {
		return f.checkGlobal(f.isKnownLocked(client, now), now) // a new client starts with a full bucket
	}
	return f.check(b, f.isKnownLocked(client, now), now)
}

func (f *loginLimiter) check(b *bucket, known bool, now time.Time) refusal {
	b.full(now)
	if w := b.wait(now); w > 0 {
		return refusal{wait: w}
	}
	return f.checkGlobal(known, now)
}

func (f *loginLimiter) checkGlobal(known bool, now time.Time) refusal {
	if !known {
		if w := f.global.wait(now); w > 0 {
			return refusal{wait: w, global: true}
		}
	}
	return refusal{}
}

// attempt takes the tokens for one password check by client. When it
// returns a refusal, nothing was taken and the password must not be
// checked (its answer would tell a guesser whether the guess was right).
// Otherwise done must be called with the outcome.
func (f *loginLimiter) attempt(client string, now time.Time) (r refusal, done func(ok bool) (fails int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.clients[client]
	if b == nil {
		b = f.trackLocked(client, now)
	}
	known := f.isKnownLocked(client, now)
	if r := f.check(b, known, now); r.wait > 0 {
		f.forgetIfFullLocked(client, b, now)
		return r, nil
	}
	own := b.take(now)
	var all *rate.Reservation
	if !known {
		all = f.global.take(now)
	}
	return refusal{}, func(ok bool) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !ok {
			b.fails++
			return b.fails
		}
		// A right password counts against nobody: the tokens go back
		// (CancelAt restores them only at the time they were taken).
		own.CancelAt(now)
		if all != nil {
			all.CancelAt(now)
		}
		f.forgetIfFullLocked(client, b, now)
		f.rememberLocked(client, now)
		return 0
	}
}

// trackLocked returns a new bucket for client, making room if needed.
func (f *loginLimiter) trackLocked(client string, now time.Time) *bucket {
	if len(f.clients) >= f.l.maxTracked {
		f.pruneLocked(now)
	}
	if len(f.clients) >= f.l.maxTracked {
		return f.overflow
	}
	b := newBucket(f.l.burst, f.l.every)
	f.clients[client] = b
	return b
}

// pruneLocked forgets every client whose bucket is full; if none is, it
// forgets the one with the most tokens among those not blocked. Blocked
// clients are kept.
func (f *loginLimiter) pruneLocked(now time.Time) {
	var most string
	mostTokens := -1.0
	for c, b := range f.clients {
		switch tokens := b.tokens(now); {
		case b.full(now):
			delete(f.clients, c)
		case tokens >= 1 && tokens > mostTokens:
			most, mostTokens = c, tokens
		}
	}
	if len(f.clients) >= f.l.maxTracked && mostTokens >= 0 {
		delete(f.clients, most)
	}
}

func (f *loginLimiter) forgetIfFullLocked(client string, b *bucket, now time.Time) {
	if b != f.overflow && f.clients[client] == b && b.full(now) {
		delete(f.clients, client)
	}
}

func (f *loginLimiter) isKnownLocked(client string, now time.Time) bool {
	t, ok := f.known[client]
	return ok && now.Sub(t) < f.l.knownTTL
}

// rememberLocked notes a good login by client, forgetting the oldest one
// beyond maxKnown.
func (f *loginLimiter) rememberLocked(client string, now time.Time) {
	if _, ok := f.known[client]; !ok && len(f.known) >= f.l.maxKnown {
		var oldest string
		var oldestAt time.Time
		for c, t := range f.known {
			if oldest == "" || t.Before(oldestAt) {
				oldest, oldestAt = c, t
			}
		}
		delete(f.known, oldest)
	}
	f.known[client] = now
}

// tracked is the number of clients held in memory.
func (f *loginLimiter) tracked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}
