package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

const lockoutPassword = "lockout test pass phrase 42"

// adminBehindProxy is a daemon with an admin password whose admin page
// trusts the loopback proxy the test's requests come from.
func adminBehindProxy(t *testing.T) *testenv.Daemon {
	t.Helper()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Env: []string{"AUDITFWD_ADMIN_PASSWORD=" + lockoutPassword}})
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), "\nadmin:\n") {
		t.Fatalf("config written by testenv has no admin block:\n%s", cfg)
	}
	d.WriteConfig(strings.Replace(string(cfg), "\nadmin:\n", "\nadmin:\n  trusted_proxies: [127.0.0.1/32]\n", 1))
	return d
}

// adminGet is one request to the admin page as if through the proxy for
// client; pass "" sends no credentials.
func adminGet(c *http.Client, d *testenv.Daemon, client, pass string) (int, string, error) {
	req, err := http.NewRequest("GET", "http://"+d.Admin+"/", nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("X-Forwarded-For", client)
	if pass != "" {
		req.SetBasicAuth("admin", pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// attack has 30 addresses guess wrong passwords through the proxy for dur,
// one of them also naming the admin's own address, while the admin's
// browser (which logged in before) logs in every half second. It returns
// how often the ceiling for all clients refused a guess.
func attack(t *testing.T, d *testenv.Daemon, admin *http.Client, adminAddr string, dur time.Duration) (ceiling int64) {
	t.Helper()
	var refusedByCeiling atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond): // ten guesses a second each: 300 a second, far past every limit
				}
				addr := fmt.Sprintf("203.0.113.%d", i+1)
				if i == 0 && n%2 == 1 {
					addr = adminAddr // a local process can name any address
				}
				code, body, err := adminGet(c, d, addr, fmt.Sprintf("guess-%d", n))
				if err == nil && code == http.StatusTooManyRequests && strings.Contains(body, "many addresses") {
					refusedByCeiling.Add(1)
				}
			}
		}()
	}
	deadline := time.Now().Add(dur)
	logins := 0
	newBrowser := &http.Client{Timeout: 10 * time.Second}
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond) // the admin's pace
		code, body, err := adminGet(admin, d, adminAddr, lockoutPassword)
		if err != nil || code != http.StatusOK {
			close(stop)
			wg.Wait()
			t.Fatalf("login %d of the known browser during the attack: status %d (%v):\n%s", logins+1, code, err, body)
		}
		logins++
		// A browser without credentials gets its login prompt, never a 429.
		if code, _, err := adminGet(newBrowser, d, "192.0.2.50", ""); err != nil || code != http.StatusUnauthorized {
			close(stop)
			wg.Wait()
			t.Fatalf("a request without credentials during the attack: status %d (%v), want 401", code, err)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("30 addresses guessed for %v: the known browser logged in %d times (all 200); %d guesses refused by the ceiling", dur, logins, refusedByCeiling.Load())
	return refusedByCeiling.Load()
}

// The probe: 30 addresses guessing through the trusted proxy for 10 s (a
// whole refill period of a client's allowance), one of them naming the
// admin's address, while the admin's browser logs in: 200 every time,
// before and after a restart (the known-browser cookie's key is in
// state_dir).
func TestAdminIsNotLockedOutBy30GuessingAddresses(t *testing.T) {
	t.Parallel()
	d := adminBehindProxy(t)
	d.Start()
	const adminAddr = "198.51.100.7"
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if code, body, err := adminGet(admin, d, adminAddr, lockoutPassword); err != nil || code != http.StatusOK {
		t.Fatalf("first login: %d %v\n%s", code, err, body)
	}

	if n := attack(t, d, admin, adminAddr, 10*time.Second); n == 0 {
		t.Error("the guessers never reached the ceiling for all clients: the test proves nothing")
	}
	if code := d.Signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
	d.Start()
	if n := attack(t, d, admin, adminAddr, 10*time.Second); n == 0 {
		t.Error("after the restart the guessers never reached the ceiling: the test proves nothing")
	}
	// Thousands of wrong passwords, a rate-limited handful of log lines.
	if n := strings.Count(d.Output(), "admin login failed"); n > 40 {
		t.Errorf("%d log lines for failed logins, want them rate-limited", n)
	}
}

// Log lines that unauthenticated requests cause are rate-limited: 2,000
// bogus OAuth callbacks make a handful of lines, not 2,000.
func TestCallbackSpamMakesFewLogLines(t *testing.T) {
	t.Parallel()
	d := adminBehindProxy(t)
	d.Start()
	before := strings.Count(d.Output(), "level=WARN")
	c := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	for i := range 2000 {
		resp, err := c.Get(fmt.Sprintf("http://%s/api/v1/integrations/slack/oauth/callback?x=%d", d.Admin, i))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("callback %d: status %d, want 400", i, resp.StatusCode)
		}
	}
	// The gate lets 10 lines through at once, then one every 6 s, each
	// after a line that counts those held back: on a slow machine the
	// 2,000 requests take longer, and a few more lines are right.
	allowed := 10 + 2*(int(time.Since(start)/(6*time.Second))+1)
	if n := strings.Count(d.Output(), "level=WARN") - before; n > allowed {
		t.Errorf("2,000 bogus callbacks in %v made %d WARN lines, want at most %d (rate-limited)", time.Since(start).Round(time.Millisecond), n, allowed)
	}
}

// Behind a trusted proxy the client is the right-most address the proxy
// did not vouch for: an entry the client wrote further left is never
// believed, so a guesser cannot get the admin's address locked by naming it.
func TestRightMostUntrustedForwardedAddressIsTheClient(t *testing.T) {
	t.Parallel()
	d := adminBehindProxy(t)
	d.Start()
	const adminAddr = "198.51.100.7"
	c := &http.Client{Timeout: 10 * time.Second}
	for i := range 10 {
		// The guesser writes the admin's address first; the proxy appends the guesser's.
		if code, _, err := adminGet(c, d, adminAddr+", 203.0.113.9", fmt.Sprintf("guess-%d", i)); err != nil || code == http.StatusOK {
			t.Fatalf("guess %d: %d %v", i, code, err)
		}
	}
	if code, _, err := adminGet(c, d, adminAddr, lockoutPassword); err != nil || code != http.StatusOK {
		t.Errorf("the admin's address after a guesser named it: status %d (%v), want 200", code, err)
	}
	if code, _, err := adminGet(c, d, "203.0.113.9", lockoutPassword); err != nil || code != http.StatusTooManyRequests {
		t.Errorf("the guesser's own address: status %d (%v), want 429", code, err)
	}
	// The failed logins are logged under the guesser's address, never the admin's.
	d.WaitOutput("remote=203.0.113.9")
	if strings.Contains(d.Output(), "remote="+adminAddr) {
		t.Errorf("a failed login is logged under the admin's address:\n%s", d.Output())
	}
}
