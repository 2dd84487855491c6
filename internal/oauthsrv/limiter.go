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
	// netBurst and netEvery are the same for all of an IPv6 /48 together:
	// one site holds 65,536 /64s, and should not get 65,536 allowances.
	netBurst int
	netEvery time.Duration
	// globalBurst and globalEvery cap wrong passwords from all clients
	// together, however many addresses an attacker has. Known browsers
	// (the signed cookie of an earlier login) are not held to it.
	globalBurst int
	globalEvery time.Duration
	// maxTracked bounds the clients kept in memory.
	maxTracked int
}

// failBurst wrong passwords from one client are answered at once; after
// that one more attempt is allowed every failEvery.
const (
	failBurst = 5
	failEvery = 10 * time.Second
)

var defaultLimits = limits{
	burst: failBurst, every: failEvery,
	netBurst: 4 * failBurst, netEvery: failEvery / 4,
	globalBurst: 10, globalEvery: time.Second,
	maxTracked: 4096,
}

// allowance is one bucket an attempt draws on: the client itself (an IPv4
// address, an IPv6 /64 or a known browser), and for IPv6 also its /48.
type allowance struct {
	key   string
	burst int
	every time.Duration
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
	wait    time.Duration
	global  bool // the ceiling for all clients, not this client's own limit
	browser bool // the client is a known browser (its own limit)
}

// loginLimiter slows down password guessing. Each attempt with a password
// takes a token from each of its allowances and, unless it comes from a
// known browser, one from a bucket shared by everybody; a right password
// gives them back, so only wrong ones count. Memory is bounded: when
// maxTracked buckets are kept, those that are full are forgotten first,
// then the least limited one that is not blocked; a blocked bucket is never
// forgotten, and when every tracked one is blocked, new clients share one
// overflow bucket per kind of allowance.
type loginLimiter struct {
	l limits

	mu       sync.Mutex
	clients  map[string]*bucket
	overflow map[allowance]*bucket // keyed by burst and every, key ""
	global   *bucket
}

func newLoginLimiter(l limits) *loginLimiter {
	return &loginLimiter{
		l:        l,
		clients:  make(map[string]*bucket),
		overflow: make(map[allowance]*bucket),
		global:   newBucket(l.globalBurst, l.globalEvery),
	}
}

// attempt takes the tokens for one password check drawing on who (and on
// the global ceiling when global). When it returns a refusal, nothing was
// taken and the password must not be checked (its answer would tell a
// guesser whether the guess was right). Otherwise done must be called with
// the outcome; it returns the wrong passwords counted for who[0].
func (f *loginLimiter) attempt(who []allowance, global bool, now time.Time) (r refusal, done func(ok bool) (fails int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	buckets := make([]*bucket, len(who))
	for i, a := range who {
		b := f.clients[a.key]
		if b == nil {
			b = f.trackLocked(a, now)
		}
		buckets[i] = b
	}
	for _, b := range buckets {
		b.full(now)
		if w := b.wait(now); w > 0 {
			f.forgetFullLocked(who, buckets, now)
			return refusal{wait: w}, nil
		}
	}
	if global {
		if w := f.global.wait(now); w > 0 {
			f.forgetFullLocked(who, buckets, now)
			return refusal{wait: w, global: true}, nil
		}
	}
	taken := make([]*rate.Reservation, 0, len(buckets)+1)
	for _, b := range buckets {
		taken = append(taken, b.take(now))
	}
	if global {
		taken = append(taken, f.global.take(now))
	}
	return refusal{}, func(ok bool) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !ok {
			for _, b := range buckets {
				b.fails++
			}
			return buckets[0].fails
		}
		// A right password counts against nobody: the tokens go back
		// (CancelAt restores them only at the time they were taken).
		for _, res := range taken {
			res.CancelAt(now)
		}
		f.forgetFullLocked(who, buckets, now)
		return 0
	}
}

// trackLocked returns a new bucket for a, making room if needed.
func (f *loginLimiter) trackLocked(a allowance, now time.Time) *bucket {
	if len(f.clients) >= f.l.maxTracked {
		f.pruneLocked(now)
	}
	if len(f.clients) >= f.l.maxTracked {
		kind := allowance{burst: a.burst, every: a.every}
		b := f.overflow[kind]
		if b == nil {
			b = newBucket(a.burst, a.every)
			f.overflow[kind] = b
		}
		return b
	}
	b := newBucket(a.burst, a.every)
	f.clients[a.key] = b
	return b
}

// pruneLocked forgets every bucket that is full; if none is, it forgets the
// one with the most tokens among those not blocked. Blocked ones are kept.
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

// forgetFullLocked drops the buckets of who that are full again.
func (f *loginLimiter) forgetFullLocked(who []allowance, buckets []*bucket, now time.Time) {
	for i, a := range who {
		if b := buckets[i]; f.clients[a.key] == b && b.full(now) {
			delete(f.clients, a.key)
		}
	}
}
