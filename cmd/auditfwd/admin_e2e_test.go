package main

import (
	"context"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/oauthsrv"
	"github.com/auditfwd/auditfwd/internal/testenv"
	"github.com/auditfwd/auditfwd/internal/token"
)

// The Slack app and workspace of the end-to-end admin test. The secrets are
// distinctive so that a leak into a log line or a page is found by a search.
const (
	e2eClientID     = "4711.0815"
	e2eClientSecret = "e2e-client-secret-7c1d9a"
	e2ePassword     = "e2e admin pass phrase 5150"
	e2eTeam         = "Acme Ops"
	e2eTeamID       = "T0ACME001"
	e2eBotUser      = "U0AUDITFWD"
	e2eFirstCode    = "1001.first-install-code"
	e2eFirstToken   = "xoxb-e2e-first-install-token"
	e2eSecondCode   = "1002.reconnect-code"
	e2eSecondToken  = "xoxb-e2e-reconnect-token"
)

// TestAdminBrowserConnectTestRevokeReconnect is the operator's whole story with
// the real `auditfwd run` and real headless Chromium: the daemon starts with
// no Slack token and holds an event; the admin logs in (HTTP Basic), clicks
// Connect to Slack, approves on a fake Slack authorize page on another site,
// and lands back on the page connected; Test posts to Slack; the held event
// and a new one arrive without a restart. Then Slack revokes the token: the
// next delivery gets token_revoked, the page says reconnect, events are held
// (not dead-lettered), and reconnecting through the page delivers them.
func TestAdminBrowserConnectTestRevokeReconnect(t *testing.T) {
	t.Parallel()
	testenv.ChromiumPath(t) // fail before starting anything when there is no browser
	artifacts := testenv.ArtifactDir(t)

	fs, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	fs.SetClientCredentials(e2eClientID, e2eClientSecret)
	fs.AddOAuthCode(e2eFirstCode, e2eFirstToken, e2eTeamID, e2eTeam, e2eBotUser)
	fs.AddOAuthCode(e2eSecondCode, e2eSecondToken, e2eTeamID, e2eTeam, e2eBotUser)
	fs.AddChannel(idSecurity, "security", true)
	fs.AddChannel(idInfra, "infrastructure", false) // the bot was not invited here

	// Slack's authorize page, on another loopback address: the way back to
	// the callback is a genuinely cross-site navigation, as from slack.com.
	authz := startFakeAuthorize(t)

	d := testenv.New(t, testenv.Options{
		APIURL: fs.URL,
		Env: []string{
			"SLACK_BOT_TOKEN=", // no token at start, whatever the test's environment says
			"SLACK_CLIENT_ID=" + e2eClientID,
			"SLACK_CLIENT_SECRET=" + e2eClientSecret,
			"AUDITFWD_ADMIN_PASSWORD=" + e2ePassword,
		},
	})
	setAuthorizeURL(t, d, authz.url+"/oauth/v2/authorize")
	adminURL := "http://" + d.Admin
	authz.redirectURI = adminURL + "/api/v1/integrations/slack/oauth/callback"
	fs.SetRedirectURI(authz.redirectURI)
	tokenPath := filepath.Join(d.StateDir, "slack-token.json")
	deadPath := filepath.Join(d.StateDir, "dead-letter.jsonl")

	// --- Not connected: an event written now is held, not lost. ---
	d.Start() // waits for /readyz 200
	d.Append(testenv.Event("login.complete", 1))
	waitMetric(t, d, "the held event queued for security", 1, "auditfwd_queue_events", "channel=security")
	if v := d.MustMetric("auditfwd_slack_connected"); v != 0 {
		t.Fatalf("auditfwd_slack_connected = %v before connecting, want 0", v)
	}
	if code := httpStatus(t, "http://"+d.Metrics+"/readyz"); code != 200 {
		t.Fatalf("/readyz = %d while not connected, want 200", code)
	}
	if code := httpStatus(t, adminURL+"/"); code != http.StatusUnauthorized {
		t.Fatalf("admin page without a password: %d, want 401", code)
	}
	d.WaitOutput("events are held until you connect") // the log line telling how to connect
	if _, err := os.Stat(tokenPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("token file before connecting: %v", err)
	}

	// --- The browser. ---
	b := newE2EBrowser(t)
	challenges := b.basicAuth(adminURL, "admin", e2ePassword)

	b.step("open the admin page", chromedp.Navigate(adminURL+"/"), chromedp.WaitVisible(chromedp.CSS("#connect")))
	if challenges.Load() == 0 {
		t.Error("the admin page did not ask the browser for the password")
	}
	if got := b.text("#connection .badge"); !strings.EqualFold(got, "Not connected") {
		t.Errorf("before connecting the page says %q", got)
	}
	if got := b.text("#connection"); !strings.Contains(got, "holding events until it is connected") {
		t.Errorf("before connecting the page does not say events are held:\n%s", got)
	}
	if got := b.text("#channel-security"); !regexp.MustCompile(`Queue\s+1\b`).MatchString(got) {
		t.Errorf("security card does not show the held event in its queue:\n%s", got)
	}

	// Connect: start → Slack's authorize page (another site) → Allow →
	// callback → code exchanged → token saved → back on the page.
	authz.next(e2eFirstCode)
	b.step("click Connect to Slack", chromedp.Click(chromedp.CSS("#connect")), chromedp.WaitVisible(chromedp.CSS("#allow")))
	authorizePage := b.location()
	if !strings.HasPrefix(authorizePage, authz.url+"/") {
		t.Fatalf("Connect to Slack led to %s, want the authorize page at %s", authorizePage, authz.url)
	}
	// Meanwhile another site links to the start route: following the link
	// (a cross-site GET, with the browser's cached password) neither starts
	// an install nor replaces the state cookie of the one in progress.
	b.step("follow another site's link to oauth/start",
		chromedp.Navigate(authz.url+"/evil?to="+url.QueryEscape(adminURL+"/api/v1/integrations/slack/oauth/start")),
		chromedp.Click(chromedp.CSS("#evil")),
		chromedp.WaitVisible(chromedp.CSS("body")))
	if loc := b.location(); strings.HasPrefix(loc, authz.url+"/oauth/v2/authorize") {
		t.Fatalf("a cross-site link started another install: the browser is at %s", loc)
	}
	b.step("back to the authorize page", chromedp.Navigate(authorizePage), chromedp.WaitVisible(chromedp.CSS("#allow")))
	b.step("approve on Slack", chromedp.Click(chromedp.CSS("#allow")), chromedp.WaitVisible(chromedp.CSS("#connection .badge-ok")))
	if loc := b.location(); loc != adminURL+"/" {
		t.Errorf("after connecting the browser is at %s, want %s/", loc, adminURL)
	}
	if got := b.text("#workspace"); got != e2eTeam {
		t.Errorf("workspace shown as %q, want %q", got, e2eTeam)
	}
	if got := b.text("#flash"); !strings.Contains(got, "Connected to the Slack workspace "+e2eTeam) {
		t.Errorf("flash after connecting: %q", got)
	}
	authz.check(t, 1)
	if got := fs.Attempts("oauth.v2.access"); len(got) != 1 || got[0].Status != 200 || got[0].Error != "" {
		t.Errorf("oauth.v2.access attempts: %+v, want one accepted", got)
	}
	checkTokenFile(t, tokenPath, e2eFirstToken)
	b.screenshot(filepath.Join(artifacts, "admin-e2e-connected.png"))

	// The held event flows at once, with no restart.
	waitEvents(t, fs, idSecurity, 1, 2, 20*time.Second)
	waitMetric(t, d, "auditfwd_slack_connected 1", 1, "auditfwd_slack_connected")

	// Test on a channel: Slack's answer in plain words.
	b.step("reload", chromedp.Navigate(adminURL+"/"), chromedp.WaitVisible(chromedp.CSS("#connection .badge-ok")))
	b.step("press Test on security",
		chromedp.Click(chromedp.CSS(`button[data-channel="security"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-ok")))
	if got := b.text("#flash"); !strings.Contains(got, "Test message sent to #security") {
		t.Errorf("flash after Test: %q", got)
	}
	if n := countPosts(fs, idSecurity, "Test message from auditfwd"); n != 1 {
		t.Errorf("test messages in #security: %d, want 1", n)
	}
	b.step("press Test on infrastructure",
		chromedp.Click(chromedp.CSS(`button[data-channel="infrastructure"]`)),
		chromedp.WaitVisible(chromedp.CSS("#flash.flash-err")))
	if got := b.text("#flash"); !strings.Contains(got, "not_in_channel") || !strings.Contains(got, "Invite the bot to #infrastructure") {
		t.Errorf("flash after a failing Test: %q", got)
	}

	// `auditfwd channels` uses the token the browser install saved.
	out, errOut, code := d.Run("channels")
	if code != 0 || !regexp.MustCompile(`(?m)^`+idSecurity+`\s+#security\s+yes\s+security$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^`+idInfra+`\s+#infrastructure\s+no\s+infrastructure$`).MatchString(out) {
		t.Errorf("auditfwd channels (exit %d):\n%s%s", code, out, errOut)
	}
	t.Logf("auditfwd channels:\n%s", out)

	// A new event arrives too; each exactly once, posted with the new token.
	d.Append(testenv.Event("login.complete", 2))
	waitEvents(t, fs, idSecurity, 1, 3, 20*time.Second)
	waitMetric(t, d, "security queue drained", 0, "auditfwd_queue_events", "channel=security")
	assertExactlyOnce(t, fs, idSecurity, 1, 3)
	checkTokens(t, fs, idSecurity, map[int]string{1: e2eFirstToken, 2: e2eFirstToken})

	// --- Slack revokes the token. ---
	fs.RevokeToken(e2eFirstToken)
	d.Append(testenv.Event("login.complete", 3))
	testenv.Eventually(t, 20*time.Second, "a delivery answered token_revoked", func() bool {
		for _, a := range fs.Attempts("chat.postMessage") {
			if a.Error == "token_revoked" {
				return true
			}
		}
		return false
	})
	waitMetric(t, d, "auditfwd_slack_connected 0 after the revocation", 0, "auditfwd_slack_connected")
	d.Append(testenv.Event("login.complete", 4), testenv.Event("login.complete", 5))
	waitMetric(t, d, "events 3..5 held in the security queue", 3, "auditfwd_queue_events", "channel=security")
	if code := httpStatus(t, "http://"+d.Metrics+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d while disconnected, want 200", code)
	}

	b.step("reload while disconnected", chromedp.Navigate(adminURL+"/"), chromedp.WaitVisible(chromedp.CSS("#connection .badge-err")))
	if got := b.text("#connection .badge"); !strings.EqualFold(got, "Disconnected") {
		t.Errorf("after the revocation the page says %q", got)
	}
	if got := b.text("#problem"); !strings.Contains(got, "token_revoked") || !strings.Contains(got, "reconnect") {
		t.Errorf("problem shown: %q", got)
	}
	if got := b.text("#connect"); got != "Connect to Slack" {
		t.Errorf("connect button says %q while disconnected", got)
	}
	if got := b.text("#channel-security"); !strings.Contains(got, "token_revoked") {
		t.Errorf("security card does not show the failed delivery:\n%s", got)
	}
	b.screenshot(filepath.Join(artifacts, "admin-e2e-disconnected.png"))

	// Held, not dead-lettered, and nothing posted with the revoked token.
	if data, err := os.ReadFile(deadPath); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		t.Fatalf("events were dead-lettered while the token was revoked:\n%s", data)
	}
	if v, ok := d.Metric("auditfwd_events_dead_lettered_total", "channel=security"); ok && v != 0 {
		t.Fatalf("dead-lettered metric %v", v)
	}
	if c, _ := testenv.CountMarkers(texts(fs, idSecurity)); c[3]+c[4]+c[5] != 0 {
		t.Fatalf("events posted while revoked: %v", c)
	}

	// --- Reconnect through the page: the held events flow. ---
	authz.next(e2eSecondCode)
	b.step("click Connect to Slack again", chromedp.Click(chromedp.CSS("#connect")), chromedp.WaitVisible(chromedp.CSS("#allow")))
	b.step("approve again", chromedp.Click(chromedp.CSS("#allow")), chromedp.WaitVisible(chromedp.CSS("#connection .badge-ok")))
	if got := b.text("#flash"); !strings.Contains(got, "Connected to the Slack workspace "+e2eTeam) {
		t.Errorf("flash after reconnecting: %q", got)
	}
	authz.check(t, 2)
	checkTokenFile(t, tokenPath, e2eSecondToken)
	waitEvents(t, fs, idSecurity, 1, 6, 20*time.Second)
	waitMetric(t, d, "security queue drained after reconnecting", 0, "auditfwd_queue_events", "channel=security")
	waitMetric(t, d, "auditfwd_slack_connected 1 after reconnecting", 1, "auditfwd_slack_connected")
	assertExactlyOnce(t, fs, idSecurity, 1, 6)
	checkTokens(t, fs, idSecurity, map[int]string{3: e2eSecondToken, 4: e2eSecondToken, 5: e2eSecondToken})
	if data, err := os.ReadFile(deadPath); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		t.Fatalf("dead letters after reconnecting:\n%s", data)
	}

	// Secrets stay out of the logs and the page.
	out = d.Output()
	html := b.html()
	for _, secret := range []string{e2eClientSecret, e2eFirstToken, e2eSecondToken, e2ePassword} {
		if strings.Contains(out, secret) {
			t.Errorf("a secret (%.8s…) is in the daemon's output", secret)
		}
		if strings.Contains(html, secret) {
			t.Errorf("a secret (%.8s…) is on the admin page", secret)
		}
	}
}

// setAuthorizeURL points slack.authorize_url at the fake authorize page.
// testenv writes the slack block itself (api_url only) and has no option for
// it, so the key is added to the config file it wrote.
func setAuthorizeURL(t *testing.T, d *testenv.Daemon, u string) {
	t.Helper()
	data, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(data)
	if !strings.Contains(cfg, "\nslack:\n") {
		t.Fatalf("config written by testenv has no slack block:\n%s", cfg)
	}
	d.WriteConfig(strings.Replace(cfg, "\nslack:\n", "\nslack:\n  authorize_url: "+u+"\n", 1))
}

// fakeAuthorize is Slack's authorize page: it shows what the app asks for
// and an Allow button that sends the browser back to redirect_uri with the
// next code and the state it was given.
type fakeAuthorize struct {
	url         string // base URL, on 127.0.0.2
	redirectURI string // what auditfwd must send as redirect_uri

	mu      sync.Mutex
	code    string
	queries []url.Values
	bad     []string
}

var authorizePage = template.Must(template.New("").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Slack: install {{.App}}</title></head>
<body><h1>auditfwd is requesting permission to access the {{.Team}} Slack workspace</h1>
<p>Scopes: {{.Scope}}</p>
<form method="post" action="/oauth/v2/approve">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<button id="allow" type="submit">Allow</button>
</form></body></html>`))

func startFakeAuthorize(t *testing.T) *fakeAuthorize {
	t.Helper()
	a := &fakeAuthorize{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/v2/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a.mu.Lock()
		a.queries = append(a.queries, q)
		want := a.redirectURI
		a.mu.Unlock()
		switch {
		case q.Get("client_id") != e2eClientID:
			a.fail(w, "client_id "+q.Get("client_id"))
			return
		case q.Get("scope") != oauthsrv.OAuthScopes:
			a.fail(w, "scope "+q.Get("scope"))
			return
		case q.Get("redirect_uri") != want:
			a.fail(w, "redirect_uri "+q.Get("redirect_uri"))
			return
		case len(q.Get("state")) < 32:
			a.fail(w, "state "+q.Get("state"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		authorizePage.Execute(w, map[string]string{
			"App": "auditfwd", "Team": e2eTeam, "Scope": q.Get("scope"),
			"RedirectURI": q.Get("redirect_uri"), "State": q.Get("state"),
		})
	})
	// A page of another site that links to the admin page's start route.
	mux.HandleFunc("GET /evil", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		template.Must(template.New("").Parse(`<!doctype html><html><body><a id="evil" href="{{.}}">win a prize</a></body></html>`)).
			Execute(w, r.URL.Query().Get("to"))
	})
	mux.HandleFunc("POST /oauth/v2/approve", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		code := a.code
		a.code = ""
		a.mu.Unlock()
		back, err := url.Parse(r.PostFormValue("redirect_uri"))
		if err != nil || code == "" {
			a.fail(w, "approve without a code or redirect_uri")
			return
		}
		back.RawQuery = url.Values{"code": {code}, "state": {r.PostFormValue("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (a second loopback address, for a cross-site hop): %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	a.url = "http://" + ln.Addr().String()
	return a
}

func (a *fakeAuthorize) fail(w http.ResponseWriter, why string) {
	a.mu.Lock()
	a.bad = append(a.bad, why)
	a.mu.Unlock()
	http.Error(w, "fake Slack refuses: "+why, http.StatusBadRequest)
}

// next sets the code that the next Allow hands out.
func (a *fakeAuthorize) next(code string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.code = code
}

// check asserts n installs so far, each with well-formed authorize requests
// and a fresh state (a page shown again keeps its install's state).
func (a *fakeAuthorize) check(t *testing.T, n int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.bad) > 0 {
		t.Errorf("fake Slack refused: %v", a.bad)
	}
	seen := map[string]bool{}
	for _, q := range a.queries {
		seen[q.Get("state")] = true
	}
	if len(seen) != n {
		t.Errorf("installs (distinct states in authorize requests): %d, want %d", len(seen), n)
	}
}

// e2eBrowser is one headless Chromium tab.
type e2eBrowser struct {
	t   *testing.T
	ctx context.Context
}

func newE2EBrowser(t *testing.T) *e2eBrowser {
	t.Helper()
	// The budget of the whole browser session; each step is bounded by it.
	return &e2eBrowser{t: t, ctx: testenv.Browser(t, 3*time.Minute)}
}

// basicAuth answers the admin origin's HTTP Basic challenges the way a person
// types into the browser's login dialog (Fetch.authRequired); Chromium then
// caches the credentials for the origin. It returns the number of challenges.
func (b *e2eBrowser) basicAuth(origin, user, pass string) *atomic.Int32 {
	b.t.Helper()
	var challenges atomic.Int32
	paused := chromedp.Events(b.ctx, fetch.RequestPaused)
	auths := chromedp.Events(b.ctx, fetch.AuthRequired)
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			chromedp.Call(b.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		}
	}()
	go func() {
		for ev, err := range auths {
			if err != nil {
				return
			}
			resp := &fetch.AuthChallengeResponse{Response: fetch.AuthChallengeResponseResponseCancelAuth}
			if ev.AuthChallenge != nil && ev.AuthChallenge.Origin == origin && ev.AuthChallenge.Scheme == "basic" {
				challenges.Add(1)
				resp = &fetch.AuthChallengeResponse{
					Response: fetch.AuthChallengeResponseResponseProvideCredentials,
					Username: user, Password: pass,
				}
			}
			chromedp.Call(b.ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID, AuthChallengeResponse: resp})
		}
	}()
	yes := true
	if _, err := chromedp.Call(b.ctx, fetch.Enable, fetch.EnableParams{
		Patterns:           []*fetch.RequestPattern{{URLPattern: origin + "/*"}},
		HandleAuthRequests: &yes,
	}); err != nil {
		b.t.Fatalf("start chromium: %v", err)
	}
	return &challenges
}

// step runs browser actions; on failure it shows where the browser is and what it shows.
func (b *e2eBrowser) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer cancel()
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\nbrowser at %s showing:\n%s", what, err, loc, body)
	}
}

func (b *e2eBrowser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func (b *e2eBrowser) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatalf("location: %v", err)
	}
	return loc
}

func (b *e2eBrowser) html() string {
	b.t.Helper()
	html, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatalf("page HTML: %v", err)
	}
	return html
}

func (b *e2eBrowser) screenshot(path string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", path)
}

// waitMetric polls /metrics until the series has value want.
func waitMetric(t *testing.T, d *testenv.Daemon, what string, want float64, name string, labels ...string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, what, func() bool {
		v, ok := d.Metric(name, labels...)
		return ok && v == want
	})
}

func httpStatus(t *testing.T, u string) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkTokenFile asserts the saved token: the right one, mode 0600.
func checkTokenFile(t *testing.T, path, want string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("token file mode %v, want 0600", perm)
	}
	tok, err := token.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != want || tok.TeamName != e2eTeam || tok.TeamID != e2eTeamID || tok.BotUserID != e2eBotUser {
		t.Errorf("saved %v (token %.12s…), want token %.12s… of %s", tok, tok.AccessToken, want, e2eTeam)
	}
}

// countPosts counts the posts to channel whose text contains s.
func countPosts(s *fakeslack.Server, channel, sub string) int {
	n := 0
	for _, text := range texts(s, channel) {
		if strings.Contains(text, sub) {
			n++
		}
	}
	return n
}

// checkTokens asserts which token posted each event.
func checkTokens(t *testing.T, s *fakeslack.Server, channel string, want map[int]string) {
	t.Helper()
	for _, p := range s.Posts() {
		if p.Channel != channel {
			continue
		}
		c, _ := testenv.CountMarkers([]string{p.AllText()})
		for n := range c {
			if tok, ok := want[n]; ok && p.Token != tok {
				t.Errorf("event %d posted with token %.12s…, want %.12s…", n, p.Token, tok)
			}
		}
	}
}
