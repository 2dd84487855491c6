package oauthsrv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// behindProxy is a fixture whose server trusts the loopback proxy that the
// test's requests come from.
func behindProxy(t *testing.T) *fixture {
	return newFixture(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
}

func forwarded(addrs ...string) http.Header {
	return http.Header{"X-Forwarded-For": {strings.Join(addrs, ", ")}}
}

func TestBehindTrustedProxyOneGuesserDoesNotLockOutAnother(t *testing.T) {
	f := behindProxy(t)
	stranger := f.browser(adminUser, "guess")
	for i := range failBurst + 1 {
		want := http.StatusUnauthorized
		if i == failBurst {
			want = http.StatusTooManyRequests
		}
		if r := stranger.do("GET", "/", nil, forwarded("203.0.113.5")); r.StatusCode != want {
			t.Fatalf("stranger's guess %d: status %d, want %d", i+1, r.StatusCode, want)
		}
	}
	// The admin comes through the same proxy from another address.
	if r := f.admin().do("GET", "/", nil, forwarded("198.51.100.7")); r.StatusCode != http.StatusOK {
		t.Fatalf("admin after a stranger's six wrong guesses: status %d, want 200", r.StatusCode)
	}
	// The stranger cannot get out by writing another address in front of
	// the one the proxy appends: only the proxy's entry counts.
	if r := stranger.do("GET", "/", nil, forwarded("192.0.2.99", "203.0.113.5")); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("stranger with a forged X-Forwarded-For entry: status %d, want 429", r.StatusCode)
	}
	// Nor by sending the header twice.
	hdr := http.Header{"X-Forwarded-For": {"192.0.2.98", "203.0.113.5"}}
	if r := stranger.do("GET", "/", nil, hdr); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("stranger with two X-Forwarded-For headers: status %d, want 429", r.StatusCode)
	}
	if !strings.Contains(f.logs.String(), "remote=203.0.113.5") {
		t.Errorf("the failed logins are not logged with the forwarded client address:\n%s", f.logs.String())
	}
}

func TestForwardedForIsIgnoredFromUntrustedPeers(t *testing.T) {
	f := newFixture(t, nil) // no trusted proxies
	guesser := f.browser(adminUser, "guess")
	for i := range failBurst {
		// A different forged address each time would escape a limiter that believed the header.
		if r := guesser.do("GET", "/", nil, forwarded(fmt.Sprintf("192.0.2.%d", i+1))); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: status %d", i+1, r.StatusCode)
		}
	}
	if r := guesser.do("GET", "/", nil, forwarded("192.0.2.200")); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("6th guess with a fresh forged address: status %d, want 429", r.StatusCode)
	}
	if n := strings.Count(f.logs.String(), "admin.trusted_proxies is empty"); n != 1 {
		t.Errorf("the hint to set admin.trusted_proxies is logged %d times, want once:\n%s", n, f.logs.String())
	}
}

func TestClientAddress(t *testing.T) {
	s := New(Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}})
	for _, tc := range []struct {
		remote string
		xff    []string
		want   string
	}{
		{"192.0.2.1:5000", nil, "192.0.2.1"},
		{"192.0.2.1:5000", []string{"198.51.100.1"}, "192.0.2.1"},                      // untrusted peer: header ignored
		{"10.0.0.2:5000", []string{"198.51.100.1"}, "198.51.100.1"},                    // trusted proxy
		{"10.0.0.2:5000", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"}, // two trusted hops
		{"10.0.0.2:5000", []string{"6.6.6.6", "198.51.100.1"}, "198.51.100.1"},         // several headers
		{"10.0.0.2:5000", []string{"junk, 10.1.1.1"}, "10.1.1.1"},                      // only proxies: the farthest one
		{"10.0.0.2:5000", []string{"198.51.100.1, junk"}, "10.0.0.2"},                  // a broken last entry: the peer
		{"10.0.0.2:5000", nil, "10.0.0.2"},
		{"[::1]:5000", []string{"2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"}, // IPv6 by /64
		{"[2001:db8::7]:80", nil, "2001:db8::/64"},
		{"[::ffff:192.0.2.3]:80", nil, "192.0.2.3"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.clientIP(r); got != tc.want {
			t.Errorf("%s %q: client %q, want %q", tc.remote, tc.xff, got, tc.want)
		}
	}
}

// guess sends one request with a password from addr straight to the handler.
func guess(h http.Handler, addr, pass string) int {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = addr + ":40000"
	r.SetBasicAuth(adminUser, pass)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

func otherAddr(i int) string { return fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255+1) }

func TestBlockedClientStaysBlockedWhile5000OthersGuess(t *testing.T) {
	f := newFixture(t, nil)
	// Every one of the 5,000 guesses is counted (the ceiling for all
	// clients is lifted), so the table of clients overflows.
	l := defaultLimits
	l.globalBurst = 1 << 30
	f.srv.failures = newLoginLimiter(l)
	h := f.srv.Handler()
	const blocked = "192.0.2.66"
	for range failBurst {
		guess(h, blocked, "guess")
	}
	if code := guess(h, blocked, testPassword); code != http.StatusTooManyRequests {
		t.Fatalf("blocked client: status %d, want 429", code)
	}
	for i := range 5000 {
		if code := guess(h, otherAddr(i), "guess"); code != http.StatusUnauthorized {
			t.Fatalf("address %d: status %d, want 401", i, code)
		}
	}
	if code := guess(h, blocked, testPassword); code != http.StatusTooManyRequests {
		t.Errorf("after 5,000 other addresses guessed, the blocked client gets status %d, want 429", code)
	}
	if n := f.srv.failures.tracked(); n > l.maxTracked {
		t.Errorf("%d clients tracked, more than the bound %d", n, l.maxTracked)
	}
	// Its block ends with time, as it would have anyway.
	f.advance(failEvery)
	if code := guess(h, blocked, testPassword); code != http.StatusOK {
		t.Errorf("blocked client after waiting: status %d, want 200", code)
	}
}

func TestWhenEveryTrackedClientIsBlockedNewcomersShareOneLimit(t *testing.T) {
	f := newFixture(t, nil)
	l := defaultLimits
	l.globalBurst, l.maxTracked = 1<<30, 50
	f.srv.failures = newLoginLimiter(l)
	h := f.srv.Handler()
	for i := range l.maxTracked {
		for range failBurst {
			guess(h, otherAddr(i), "guess")
		}
	}
	// Newcomers share the overflow allowance: failBurst guesses in all.
	got := map[int]int{}
	for i := l.maxTracked; i < l.maxTracked+20; i++ {
		got[guess(h, otherAddr(i), "guess")]++
	}
	if got[http.StatusUnauthorized] != failBurst || got[http.StatusTooManyRequests] != 20-failBurst {
		t.Errorf("20 newcomers: %v, want %d checked and the rest refused", got, failBurst)
	}
	for i := range l.maxTracked {
		if code := guess(h, otherAddr(i), testPassword); code != http.StatusTooManyRequests {
			t.Fatalf("blocked client %d was forgotten: status %d", i, code)
		}
	}
	if n := f.srv.failures.tracked(); n != l.maxTracked {
		t.Errorf("%d clients tracked, want %d", n, l.maxTracked)
	}
}

// login sends one request from addr (with X-Forwarded-For xff when not
// "") carrying cookie when not nil; it returns the status and the
// known-browser cookie the answer set, if any.
func login(h http.Handler, addr, xff, pass string, cookie *http.Cookie) (int, *http.Cookie) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = addr + ":40000"
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	if pass != "" {
		r.SetBasicAuth(adminUser, pass)
	}
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == browserCookie {
			return w.Code, c
		}
	}
	return w.Code, nil
}

func TestCeilingOnWrongPasswordsFromAllAddresses(t *testing.T) {
	f := newFixture(t, nil)
	h := f.srv.Handler()
	for i := range defaultLimits.globalBurst {
		if code := guess(h, otherAddr(i), "guess"); code != http.StatusUnauthorized {
			t.Fatalf("address %d: status %d, want 401", i, code)
		}
	}
	// More addresses get no answer about their guess, right or wrong.
	for _, pass := range []string{"guess", testPassword} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.200:1"
		r.SetBasicAuth(adminUser, pass)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), "many addresses") {
			t.Errorf("beyond the ceiling: status %d Retry-After %q body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
		}
	}
	// A request without credentials is not a guess: the login prompt, not 429.
	if code, _ := login(h, "192.0.2.201", "", "", nil); code != http.StatusUnauthorized {
		t.Errorf("no credentials beyond the ceiling: status %d, want 401 (the browser's login prompt)", code)
	}
	if n := strings.Count(f.logs.String(), "admin logins paused"); n != 1 {
		t.Errorf("the pause is logged %d times, want once a minute:\n%s", n, f.logs.String())
	}
	f.advance(defaultLimits.globalEvery)
	if code := guess(h, "192.0.2.201", "guess"); code != http.StatusUnauthorized {
		t.Errorf("a second later: status %d, want the guess checked (401)", code)
	}
}

// The probe: addresses guessing through the trusted proxy keep the ceiling
// full, and one of them names the admin's own address so that it is
// blocked. The admin's browser, which logged in before, is let in all the
// same, also after a restart (the key is the same), and gets its login
// prompt without credentials; a new browser is only slowed down.
func TestKnownBrowserIsLetInWhatever30AddressesGuess(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	f := newFixture(t, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		o.BrowserKey = key
	})
	const proxy, adminAddr = "127.0.0.1", "198.51.100.7"
	code, cookie := login(f.srv.Handler(), proxy, adminAddr, testPassword, nil)
	if code != http.StatusOK || cookie == nil {
		t.Fatalf("first login: status %d, cookie %v", code, cookie)
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" ||
		cookie.MaxAge != int(browserTTL/time.Second) || cookie.Secure {
		t.Errorf("known-browser cookie %+v: want HttpOnly, SameSite=Strict, Path=/, 30 days, not Secure on http", cookie)
	}
	f.advance(7 * 24 * time.Hour)

	for run, srv := range []*Server{f.srv, New(Options{Password: testPassword, BrowserKey: key,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Now: f.clock})} {
		h := srv.Handler()
		for round := range 20 {
			for i := range 30 {
				login(h, proxy, fmt.Sprintf("203.0.113.%d", i+1), "guess", nil)
			}
			login(h, proxy, adminAddr, "guess", nil) // the admin's address, named by someone else
			if code, _ := login(h, proxy, adminAddr, testPassword, cookie); code != http.StatusOK {
				t.Fatalf("run %d round %d: the known browser got status %d, want 200", run, round, code)
			}
			if code, _ := login(h, proxy, adminAddr, "", cookie); code != http.StatusUnauthorized {
				t.Fatalf("run %d round %d: the known browser without credentials got %d, want 401", run, round, code)
			}
			if code, _ := login(h, proxy, "192.0.2.50", "", nil); code != http.StatusUnauthorized {
				t.Fatalf("run %d round %d: a new browser without credentials got %d, want 401", run, round, code)
			}
			f.advance(time.Second)
		}
		for i := range 30 {
			login(h, proxy, fmt.Sprintf("203.0.113.%d", i+1), "guess", nil)
		}
		if code, _ := login(h, proxy, "192.0.2.50", testPassword, nil); code != http.StatusTooManyRequests {
			t.Errorf("run %d: a new browser with the password during the attack got %d, want 429 (slowed down)", run, code)
		}
	}
	// A cookie signed with another key (state_dir replaced) is not known.
	other := New(Options{Password: testPassword, Now: f.clock})
	for i := range defaultLimits.globalBurst + 1 {
		login(other.Handler(), otherAddr(i), "", "guess", nil)
	}
	if code, _ := login(other.Handler(), adminAddr, "", testPassword, cookie); code != http.StatusTooManyRequests {
		t.Errorf("a cookie of another key: status %d, want 429 like any new browser", code)
	}
}

func TestKnownBrowserIsLimitedByItsOwnFailuresAndExpires(t *testing.T) {
	f := newFixture(t, nil)
	h := f.srv.Handler()
	_, cookie := login(h, "198.51.100.7", "", testPassword, nil)
	if cookie == nil {
		t.Fatal("no known-browser cookie after a login")
	}
	for i := range failBurst {
		if code, _ := login(h, "198.51.100.7", "", "typo", cookie); code != http.StatusUnauthorized {
			t.Fatalf("typo %d: status %d", i+1, code)
		}
	}
	if code, _ := login(h, "198.51.100.7", "", testPassword, cookie); code != http.StatusTooManyRequests {
		t.Errorf("after %d wrong passwords the known browser gets %d, want 429", failBurst, code)
	}
	// Its own limit is its own: the address is not blocked for others.
	if code := guess(h, "198.51.100.7", testPassword); code != http.StatusOK {
		t.Errorf("another browser at the same address: status %d, want 200", code)
	}
	f.advance(failEvery)
	code, again := login(h, "198.51.100.7", "", testPassword, cookie)
	if code != http.StatusOK {
		t.Fatalf("after waiting: %d", code)
	}
	if again != nil {
		t.Errorf("a fresh cookie was issued again within a day: %v", again)
	}
	// A day later the login renews it; after 30 days without one it is gone.
	f.advance(browserRefresh)
	if _, renewed := login(h, "198.51.100.7", "", testPassword, cookie); renewed == nil {
		t.Error("a day-old cookie was not renewed at login")
	}
	f.advance(browserTTL)
	if _, _, ok := f.srv.knownBrowser(withCookie(cookie), f.clock()); ok {
		t.Error("a 31-day-old cookie is still known")
	}
	forged := *cookie
	forged.Value = strings.ToUpper(cookie.Value[:4]) + cookie.Value[4:]
	if _, _, ok := f.srv.knownBrowser(withCookie(&forged), f.clock()); ok && forged.Value != cookie.Value {
		t.Error("a forged cookie is known")
	}
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.AddCookie(c)
	return r
}

// One IPv6 /48 holds 65,536 /64s: together they get one site's allowance,
// not 65,536 clients' (and do not fill the table of tracked clients).
func TestIPv6SiteIsLimitedAsAWhole(t *testing.T) {
	f := newFixture(t, nil)
	l := defaultLimits
	l.globalBurst = 1 << 30 // only the per-client limits
	f.srv.failures = newLoginLimiter(l)
	h := f.srv.Handler()
	got := map[int]int{}
	for i := range 65536 {
		got[guess(h, fmt.Sprintf("[2001:db8:7:%x::1]", i), "guess")]++
	}
	if got[http.StatusUnauthorized] != l.netBurst || got[http.StatusTooManyRequests] != 65536-l.netBurst {
		t.Errorf("65,536 /64s of one /48: %v, want %d checked and the rest refused", got, l.netBurst)
	}
	if n := f.srv.failures.tracked(); n > l.netBurst+1 {
		t.Errorf("%d buckets tracked for one /48, want at most %d", n, l.netBurst+1)
	}
	if code := guess(h, "[2001:db8:8::1]", "guess"); code != http.StatusUnauthorized {
		t.Errorf("another /48: status %d, want 401", code)
	}
	if code := guess(h, "[2001:db8:7:ffff::1]", "guess"); code != http.StatusTooManyRequests {
		t.Errorf("yet another /64 of the limited /48: status %d, want 429", code)
	}
}

// Log lines that anybody can cause without a password are rate-limited,
// and what is held back is counted.
func TestUnauthenticatedLogLinesAreRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	h := f.srv.Handler()
	for i := range 2000 {
		r := httptest.NewRequest("GET", fmt.Sprintf("%s?x=%d", callbackPath, i), nil)
		r.RemoteAddr = otherAddr(i) + ":1"
		h.ServeHTTP(httptest.NewRecorder(), r)
		guess(h, otherAddr(i), "guess")
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "level=WARN"); n > unauthLogBurst+2 {
		t.Errorf("2,000 refused callbacks and 2,000 wrong passwords made %d WARN lines, want at most %d:\n%s", n, unauthLogBurst+2, logs)
	}
	f.advance(unauthLogEvery)
	guess(h, "192.0.2.77", "guess")
	if !strings.Contains(f.logs.String(), "suppressed=") {
		t.Errorf("the held-back lines are not counted:\n%s", f.logs.String())
	}
}

func TestRightPasswordsAreNotCounted(t *testing.T) {
	f := newFixture(t, nil)
	h := f.srv.Handler()
	for i := range 100 {
		if code := guess(h, "192.0.2.1", testPassword); code != http.StatusOK {
			t.Fatalf("login %d: status %d", i, code)
		}
	}
	for i := range failBurst {
		if code := guess(h, "192.0.2.1", "typo"); code != http.StatusUnauthorized {
			t.Fatalf("typo %d: status %d, want 401", i, code)
		}
	}
	if n := f.srv.failures.tracked(); n != 1 {
		t.Errorf("%d clients tracked, want 1", n)
	}
}

// tracked is the number of buckets held in memory.
func (f *loginLimiter) tracked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.clients)
}
