package oauthsrv

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/testenv"
	"github.com/auditfwd/auditfwd/internal/token"
)

// serve runs h on a fresh loopback port of host until the test ends.
func serve(t *testing.T, host string, h http.Handler) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln, "http://" + ln.Addr().String()
}

const (
	browserCode = "4242.code-from-slack"
	browserTeam = "Acme Ops"
)

// startFakeSlack starts the shared fake Slack Web API with one install code.
func startFakeSlack(t *testing.T, redirectURI string) *fakeslack.Server {
	t.Helper()
	fs, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	fs.SetClientCredentials(testClientID, testSecret)
	if redirectURI != "" {
		fs.SetRedirectURI(redirectURI)
	}
	fs.AddOAuthCode(browserCode, testToken, "T0001", browserTeam, "U0BOT")
	return fs
}

// TestBrowserConnectAndTest drives real headless Chromium through the whole
// connection: log in, Connect to Slack, pass the (fake) Slack authorize page,
// see the workspace, press Test and see Slack's answer.
func TestBrowserConnectAndTest(t *testing.T) {
	artifacts := testenv.ArtifactDir(t)

	// Slack's Web API and its authorize page, on loopback. The authorize page
	// lives on another address, so the return trip to the callback is a real
	// cross-site navigation (the state cookie must survive SameSite=Lax).
	var authMu sync.Mutex
	var authorizeQueries []url.Values
	_, authorizeBase := serve(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		authMu.Lock()
		authorizeQueries = append(authorizeQueries, q)
		authMu.Unlock()
		if q.Get("client_id") != testClientID || q.Get("scope") != OAuthScopes || q.Get("redirect_uri") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		back, _ := url.Parse(q.Get("redirect_uri"))
		bq := url.Values{"code": {browserCode}, "state": {q.Get("state")}}
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}))

	logs := &syncBuffer{}
	daemon := newFakeDaemon()
	tokenPath := filepath.Join(t.TempDir(), "slack-token.json")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adminURL := "http://" + ln.Addr().String()
	api := startFakeSlack(t, adminURL+callbackPath)
	srv := New(Options{
		PublicURL:    adminURL,
		AuthorizeURL: authorizeBase + "/oauth/v2/authorize",
		ClientID:     testClientID,
		ClientSecret: testSecret,
		Password:     testPassword,
		TokenPath:    tokenPath,
		Exchange:     SlackExchange(slack.Options{APIURL: api.URL, Timeout: 15 * time.Second}, testClientID, testSecret),
		Daemon:       daemon,
		Logger:       slog.New(slog.NewTextHandler(logs, nil)),
	})
	adminSrv := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go adminSrv.Serve(ln)
	t.Cleanup(func() { adminSrv.Close() })

	// The browser.
	ctx := testenv.Browser(t, 90*time.Second)

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			t.Fatalf("%s: %v\nbrowser at %s showing:\n%s\nserver log:\n%s", what, err, loc, body, logs.String())
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	screenshot := func(name string, shot chromedp.Action[[]byte]) {
		t.Helper()
		png, err := chromedp.Run(ctx, shot)
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(artifacts, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// Log in: the browser sends the admin's Basic credentials with every request.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(adminUser+":"+testPassword))
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": auth}}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	step("open the admin page", chromedp.Navigate(adminURL+"/"), chromedp.WaitVisible(chromedp.CSS("#connect")))
	if got := text("#connection .badge"); !strings.EqualFold(got, "Not connected") {
		t.Errorf("before connecting the page says %q", got)
	}
	if got := text("#connect"); got != "Connect to Slack" {
		t.Errorf("connect button says %q", got)
	}

	// Connect: start → fake Slack authorize → callback → back on the page.
	step("connect to Slack",
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS("#workspace")))
	if got := text("#workspace"); got != browserTeam {
		t.Errorf("workspace shown as %q, want %q", got, browserTeam)
	}
	if got := text("#flash"); !strings.Contains(got, "Connected to the Slack workspace "+browserTeam) {
		t.Errorf("flash after connecting: %q", got)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); loc != adminURL+"/" {
		t.Errorf("after connecting the browser is at %s", loc)
	}
	authMu.Lock()
	if len(authorizeQueries) != 1 || authorizeQueries[0].Get("redirect_uri") != adminURL+callbackPath {
		t.Errorf("authorize requests: %v", authorizeQueries)
	}
	authMu.Unlock()
	if got := api.Attempts("oauth.v2.access"); len(got) != 1 {
		t.Errorf("oauth.v2.access called %d times, want 1", len(got))
	}
	saved, err := token.Load(tokenPath)
	if err != nil || saved.AccessToken != testToken || saved.TeamName != browserTeam {
		t.Errorf("saved token %v, %v", saved, err)
	}
	if st, err := os.Stat(tokenPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", st, err)
	}
	if got := daemon.connectedTokens(); len(got) != 1 {
		t.Errorf("Daemon.Connected called %d times", len(got))
	}
	screenshot("oauthsrv-connected.png", chromedp.FullScreenshot(100))

	// Test a channel and see Slack's answer. Reload first: the flash is shown
	// once, so the one below can only come from the Test.
	step("reload", chromedp.Navigate(adminURL+"/"), chromedp.WaitVisible(chromedp.CSS("#workspace")))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.querySelectorAll('#flash').length")); err != nil || n != 0 {
		t.Fatalf("flash shown again after a reload (%d, %v)", n, err)
	}
	step("press Test on #security",
		chromedp.Click(chromedp.CSS(`button[data-channel="security"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-ok")))
	if got := text("#flash"); !strings.Contains(got, "Test message sent to #security") {
		t.Errorf("flash after Test: %q", got)
	}
	if got := daemon.testCalls(); len(got) != 1 || got[0] != "security" {
		t.Errorf("SendTest calls: %v", got)
	}

	// A failing channel explains what to do.
	step("press Test on #infrastructure",
		chromedp.Click(chromedp.CSS(`button[data-channel="infrastructure"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-err")))
	if got := text("#flash"); !strings.Contains(got, "not_in_channel") || !strings.Contains(got, "Invite the bot to #infrastructure") {
		t.Errorf("flash after a failing Test: %q", got)
	}

	// The same page on a phone.
	step("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("#workspace")))
	screenshot("oauthsrv-connected-phone.png", chromedp.CaptureScreenshot()) // the first screen
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth"))
	if err != nil || width > 390 {
		t.Errorf("page is %d px wide on a 390 px phone (%v): it scrolls sideways", width, err)
	}

	for _, secret := range []string{testSecret, testToken, testPassword} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a secret (%.6s…) is in the log:\n%s", secret, logs.String())
		}
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, testToken) || strings.Contains(html, testSecret) {
		t.Error("a secret is on the page")
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal(fmt.Errorf("browser test ran out of time"))
	}
}
