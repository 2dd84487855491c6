package oauthsrv

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/token"
)

// Every route but the callback needs the admin password; unknown paths too,
// so a probe learns nothing.
var protected = []struct{ method, path string }{
	{"GET", "/"},
	{"POST", startPath},
	{"GET", startPath},
	{"POST", "/api/v1/integrations/slack/channels/security/test"},
	{"GET", "/api/v1/integrations/slack/channels/security/test"},
	{"GET", "/no/such/page"},
	{"GET", "/static/admin.css"},
}

func TestEveryRouteButCallbackNeedsCredentials(t *testing.T) {
	f := newFixture(t, nil)
	for _, who := range []struct {
		name       string
		user, pass string
	}{
		{"no credentials", "", ""},
		{"wrong password", adminUser, "wrong"},
		{"wrong user", "root", testPassword},
		{"password as user", testPassword, ""},
	} {
		b := f.browser(who.user, who.pass)
		for _, rt := range protected {
			r := b.do(rt.method, rt.path, url.Values{}, nil)
			if r.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %s %s: status %d, want 401", who.name, rt.method, rt.path, r.StatusCode)
			}
			if got := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
				t.Errorf("%s: %s %s: WWW-Authenticate %q", who.name, rt.method, rt.path, got)
			}
			f.advance(time.Minute) // stay below the failed-login limit
		}
	}
	if n := len(f.daemon.testCalls()); n != 0 {
		t.Errorf("SendTest called %d times without credentials", n)
	}

	// The callback answers without credentials (with 400 here: no state).
	r := f.browser("", "").get(callbackPath)
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("callback without credentials: status %d, want 400", r.StatusCode)
	}

	// And with them everything works.
	if r := f.admin().get("/"); r.StatusCode != http.StatusOK {
		t.Errorf("GET / as admin: status %d", r.StatusCode)
	}
	if !strings.Contains(f.logs.String(), "admin login failed") {
		t.Errorf("failed logins are not logged:\n%s", f.logs.String())
	}
}

func TestNoPasswordAnswers503(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Password = "" })
	for _, b := range []*browser{f.browser("", ""), f.browser(adminUser, "")} {
		for _, rt := range protected {
			r := b.do(rt.method, rt.path, url.Values{}, nil)
			if r.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("%s %s: status %d, want 503", rt.method, rt.path, r.StatusCode)
			}
			if !strings.Contains(r.body, "No admin password is configured") || !strings.Contains(r.body, "AUDITFWD_ADMIN_PASSWORD") {
				t.Errorf("%s %s: 503 body does not say what to do:\n%s", rt.method, rt.path, r.body)
			}
		}
	}
	if r := f.browser("", "").get(callbackPath + "?state=x&code=y"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("callback: status %d, want 400", r.StatusCode)
	}
	if f.exchangeCount() != 0 {
		t.Error("code exchanged without a password configured")
	}
}

func TestRepeatedLoginFailuresAreSlowedDown(t *testing.T) {
	f := newFixture(t, nil)
	bad := f.browser(adminUser, "guess")
	for i := range failBurst {
		if r := bad.get("/"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i+1, r.StatusCode)
		}
	}
	r := bad.get("/")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("attempt %d: status %d Retry-After %q, want 429 with Retry-After", failBurst+1, r.StatusCode, r.Header.Get("Retry-After"))
	}
	// While blocked, even the right password gets no answer about its correctness.
	if r := f.admin().get("/"); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while blocked: status %d, want 429", r.StatusCode)
	}
	f.advance(failEvery)
	if r := f.admin().get("/"); r.StatusCode != http.StatusOK {
		t.Errorf("right password after waiting: status %d, want 200", r.StatusCode)
	}
	if strings.Contains(f.logs.String(), "guess") {
		t.Errorf("a tried password is logged:\n%s", f.logs.String())
	}
}

func TestStartRedirectsToSlackWithStateCookie(t *testing.T) {
	for _, tc := range []struct {
		publicURL string
		secure    bool
	}{
		{"https://gw.example.com", true},
		{"http://127.0.0.1:8089", false},
	} {
		srv := New(Options{PublicURL: tc.publicURL, AuthorizeURL: "https://slack.example/oauth/v2/authorize?team=T1",
			ClientID: testClientID, ClientSecret: testSecret, Password: testPassword, TokenPath: "unused",
			Exchange: (&fixture{}).exchange, Daemon: newFakeDaemon()})
		// The page, for its CSRF token and session cookie.
		page := httptest.NewRequest("GET", "/", nil)
		page.SetBasicAuth(adminUser, testPassword)
		prec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(prec, page)
		m := csrfInput.FindStringSubmatch(prec.Body.String())
		if m == nil {
			t.Fatalf("no csrf token on the page")
		}
		req := httptest.NewRequest("POST", startPath, strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for _, c := range prec.Result().Cookies() {
			req.AddCookie(c)
		}
		req.SetBasicAuth(adminUser, testPassword)
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusFound {
			t.Fatalf("%s: status %d, want 302", tc.publicURL, rec.Code)
		}
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := loc.Query()
		if loc.Host != "slack.example" || loc.Path != "/oauth/v2/authorize" || q.Get("team") != "T1" {
			t.Errorf("Location %s is not the authorize URL", loc)
		}
		if q.Get("client_id") != testClientID || q.Get("scope") != "channels:read,chat:write" ||
			q.Get("redirect_uri") != tc.publicURL+"/api/v1/integrations/slack/oauth/callback" {
			t.Errorf("Location query %v", q)
		}
		if strings.Contains(loc.String(), testSecret) {
			t.Error("the client secret is in the authorize URL")
		}
		state := q.Get("state")
		if raw, err := base64.RawURLEncoding.DecodeString(state); err != nil || len(raw) < 16 {
			t.Errorf("state %q is not ≥128 random bits", state)
		}
		var c *http.Cookie
		for _, k := range rec.Result().Cookies() {
			if k.Name == stateCookie {
				c = k
			}
		}
		if c == nil {
			t.Fatalf("cookies %v, want the state cookie", rec.Result().Cookies())
		}
		if c.Value != state || c.Path != callbackPath || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.Secure != tc.secure || c.MaxAge != 600 {
			t.Errorf("%s: state cookie %+v", tc.publicURL, c)
		}
	}
}

func TestCallbackSavesTokenAndConnects(t *testing.T) {
	f := newFixture(t, nil)
	b := f.admin()
	state := b.startInstall()
	slackSide := f.browser("", "") // the callback comes without Basic auth
	slackSide.client.Jar = b.client.Jar
	r := slackSide.callback(state, "code-1")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("callback: status %d Location %q, want 303 to /; body %s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	st, err := os.Stat(f.tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("token file mode %o, want 600", mode)
	}
	saved, err := token.Load(f.tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if saved.AccessToken != testToken || saved.TeamName != "Acme Ops" || saved.BotUserID != "U0BOT" ||
		saved.Scope != "channels:read,chat:write" || !saved.InstalledAt.Equal(f.clock()) {
		t.Errorf("saved token %v %q", saved, saved.InstalledAt)
	}
	got := f.daemon.connectedTokens()
	if len(got) != 1 || got[0].AccessToken != testToken {
		t.Fatalf("Daemon.Connected got %v", got)
	}
	page := b.get("/")
	if !strings.Contains(page.body, "Connected to the Slack workspace Acme Ops.") ||
		!regexp.MustCompile(`id="workspace">Acme Ops<`).MatchString(page.body) {
		t.Errorf("page after connecting:\n%s", page.body)
	}
	// The flash is shown once.
	if strings.Contains(b.get("/").body, "Connected to the Slack workspace") {
		t.Error("flash shown twice")
	}

	// A reconnect replaces the token.
	state = b.startInstall()
	if r := b.callback(state, "code-2"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reconnect: status %d", r.StatusCode)
	}
	if n := len(f.daemon.connectedTokens()); n != 2 {
		t.Errorf("Connected called %d times after a reconnect, want 2", n)
	}
}

func TestCallbackRejectsBadState(t *testing.T) {
	cases := []struct {
		name string
		run  func(f *fixture) response
		want string
	}{
		{"replayed state", func(f *fixture) response {
			b := f.admin()
			state := b.startInstall()
			if r := b.callback(state, "code-1"); r.StatusCode != http.StatusSeeOther {
				f.t.Fatalf("first use: status %d", r.StatusCode)
			}
			f.mu.Lock()
			f.exchanges = nil
			f.mu.Unlock()
			// Replay the same link; the browser even still offers the cookie.
			b.client.Jar.SetCookies(mustURL(f.ts.URL+callbackPath), []*http.Cookie{{Name: stateCookie, Value: state, Path: callbackPath}})
			return b.callback(state, "code-1")
		}, "unknown or was already used"},
		{"unknown state", func(f *fixture) response {
			b := f.admin()
			b.startInstall()
			forged := randomToken()
			b.client.Jar.SetCookies(mustURL(f.ts.URL+callbackPath), []*http.Cookie{{Name: stateCookie, Value: forged, Path: callbackPath}})
			return b.callback(forged, "code-1")
		}, "unknown or was already used"},
		{"expired state", func(f *fixture) response {
			b := f.admin()
			state := b.startInstall()
			f.advance(10*time.Minute + time.Second)
			return b.callback(state, "code-1")
		}, "expired"},
		{"no cookie (link opened in another browser)", func(f *fixture) response {
			state := f.admin().startInstall()
			return f.browser("", "").callback(state, "code-1")
		}, "state cookie is missing"},
		{"another browser's cookie", func(f *fixture) response {
			victim, attacker := f.admin(), f.admin()
			victim.startInstall()
			attackerState := attacker.startInstall()
			return victim.callback(attackerState, "attacker-code")
		}, "started in another browser"},
		{"no state", func(f *fixture) response {
			b := f.admin()
			b.startInstall()
			return b.callback("", "code-1")
		}, "no state parameter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := tc.run(f)
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", r.StatusCode)
			}
			if !strings.Contains(r.body, tc.want) || !strings.Contains(r.body, "Connect to Slack again") {
				t.Errorf("body does not explain (%q):\n%s", tc.want, r.body)
			}
			if n := f.exchangeCount(); n != 0 {
				t.Errorf("code exchanged %d times, want none", n)
			}
			if tc.name != "replayed state" {
				if _, err := os.Stat(f.tokenPath); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("token file written: %v", err)
				}
			}
		})
	}
}

func TestCallbackShowsSlackCancel(t *testing.T) {
	f := newFixture(t, nil)
	b := f.admin()
	state := b.startInstall()
	r := b.get(callbackPath + "?error=access_denied&state=" + url.QueryEscape(state))
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "Slack install was cancelled (access_denied)") {
		t.Errorf("status %d body:\n%s", r.StatusCode, r.body)
	}
	if f.exchangeCount() != 0 {
		t.Error("code exchanged after access_denied")
	}
	// The state is used up by the cancel.
	if r := b.callback(state, "code"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("state reused after cancel: status %d", r.StatusCode)
	}
}

func TestExchangeFailureKeepsSecretsOut(t *testing.T) {
	f := newFixture(t, nil)
	// A careless error that quotes the secret and a token must not leak them.
	f.setExchErr(fmt.Errorf("oauth.v2.access: invalid_code (client_secret=%s token=%s)", testSecret, testToken))
	b := f.admin()
	r := b.callback(b.startInstall(), "bad-code")
	if r.StatusCode != http.StatusBadGateway || !strings.Contains(r.body, "invalid_code") {
		t.Errorf("status %d body:\n%s", r.StatusCode, r.body)
	}
	if _, err := os.Stat(f.tokenPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("token file written after a failed exchange: %v", err)
	}
	if !strings.Contains(f.logs.String(), "invalid_code") {
		t.Errorf("the failure is not logged:\n%s", f.logs.String())
	}
	// The fixture's cleanup checks every log line and body for the secrets;
	// run a successful install too so the token has been everywhere.
	f.setExchErr(nil)
	if r := b.callback(b.startInstall(), "good"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", r.StatusCode)
	}
	b.get("/")
	b.pressTest("security", b.csrf(), nil)
	b.get("/")
}

func TestStartWithoutSlackAppSaysWhatIsMissing(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.ClientSecret = "" })
	b := f.admin()
	r := b.pressConnect(b.csrf(), nil)
	if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(r.body, "SLACK_CLIENT_SECRET") {
		t.Errorf("status %d body:\n%s", r.StatusCode, r.body)
	}
}

func TestTestButtonRefusesCrossOrigin(t *testing.T) {
	f := newFixture(t, nil)
	b := f.admin()
	good := b.csrf()
	cases := []struct {
		name string
		csrf string
		hdr  http.Header
	}{
		{"cross-site fetch metadata", good, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
		{"same-site sibling", good, http.Header{"Origin": {"https://evil.gw.example.com"}, "Sec-Fetch-Site": {"same-site"}}},
		{"foreign Origin, old browser", good, http.Header{"Origin": {"https://evil.example"}}},
		{"foreign Referer only", good, http.Header{"Referer": {"https://evil.example/page"}, "Sec-Fetch-Site": nil}},
		{"no token", "", nil},
		{"forged token", base64.RawURLEncoding.EncodeToString(make([]byte, 32)), nil},
	}
	for _, tc := range cases {
		hdr := tc.hdr
		if tc.name == "foreign Referer only" {
			// pressTest adds a same-origin Origin when none is given; send by hand.
			form := url.Values{"csrf": {tc.csrf}}
			r := b.do(http.MethodPost, "/api/v1/integrations/slack/channels/security/test", form, http.Header{"Referer": {"https://evil.example/page"}})
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", tc.name, r.StatusCode)
			}
			continue
		}
		r := b.pressTest("security", tc.csrf, hdr)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tc.name, r.StatusCode)
		}
		if !strings.Contains(r.body, "Refused") {
			t.Errorf("%s: body:\n%s", tc.name, r.body)
		}
	}
	// A token from another browser's session does not work either.
	other := f.admin()
	if r := other.pressTest("security", good, nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("token of another session: status %d, want 403", r.StatusCode)
	}
	if calls := f.daemon.testCalls(); len(calls) != 0 {
		t.Fatalf("SendTest called by a refused request: %v", calls)
	}
	// The same form from our own page goes through.
	if r := b.pressTest("security", good, nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("own page: status %d, want 303", r.StatusCode)
	}
	// A trusted public origin behind a Host-rewriting proxy, for a browser without Sec-Fetch-Site.
	if r := b.pressTest("security", good, http.Header{"Origin": {f.ts.URL}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("public origin: status %d, want 303", r.StatusCode)
	}
}

func TestTestButtonMessages(t *testing.T) {
	f := newFixture(t, nil)
	b := f.admin()
	csrf := b.csrf()

	r := b.pressTest("security", csrf, nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("status %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	page := b.get("/").body
	if !strings.Contains(page, "Test message sent to #security (channel security). Slack accepted it.") || !strings.Contains(page, "flash-ok") {
		t.Errorf("success flash missing:\n%s", page)
	}

	b.pressTest("infrastructure", csrf, nil)
	page = b.get("/").body
	if !strings.Contains(page, "The test message to #infrastructure failed: not_in_channel.") ||
		!strings.Contains(page, "Invite the bot to #infrastructure (/invite @auditfwd in the channel).") || !strings.Contains(page, "flash-err") {
		t.Errorf("failure flash missing:\n%s", page)
	}

	// JSON for scripts.
	hdr := http.Header{"Accept": {"application/json"}, "X-Csrf-Token": {csrf}}
	r = b.pressTest("infrastructure", "", hdr)
	var res testResult
	if err := json.Unmarshal([]byte(r.body), &res); err != nil {
		t.Fatalf("JSON answer: %v: %s", err, r.body)
	}
	if r.StatusCode != http.StatusBadGateway || res.OK || res.Error != "not_in_channel" || !strings.HasPrefix(res.Hint, "invite the bot to #infrastructure") ||
		res.SlackChannel != "#infrastructure" {
		t.Errorf("status %d result %+v", r.StatusCode, res)
	}
	r = b.pressTest("security", "", hdr)
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.StatusCode != 200 || !res.OK {
		t.Errorf("status %d result %+v err %v", r.StatusCode, res, err)
	}
	r = b.pressTest("nope", "", hdr)
	if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "no channel named") {
		t.Errorf("unknown channel: status %d body %s", r.StatusCode, r.body)
	}
	if got := strings.Join(f.daemon.testCalls(), ","); got != "security,infrastructure,infrastructure,security" {
		t.Errorf("SendTest calls %s", got)
	}
}

func TestPage(t *testing.T) {
	f := newFixture(t, nil)
	f.daemon.channels = append(f.daemon.channels, delivery.ChannelStatus{Target: config.Target{Name: "deploy_approval_alerts", SlackChannel: "#deploy-approvals",
		Patterns: []string{"deploy_approval_request.create"}, Alert: true, Mention: []string{"here"}}})
	f.daemon.channels[0].Where = []string{"status: [failed, denied]", `user_email: ["!*@bots.*"]`, `api_token_name: [""]`}
	f.daemon.channels[0].Mention = []string{"S0123ABCD", "U024BE7LH"}
	b := f.admin()

	r := b.get("/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	for _, want := range []string{
		`<meta name="viewport"`,
		"Not connected", `<form method="post" action="/api/v1/integrations/slack/oauth/start"><input type="hidden" name="csrf" value="`,
		`id="connect">Connect to Slack<`,
		`id="channel-security"`, "#security", "<code>login.*_failed</code>", "✓ ok", "2026-03-20 01:12:44 UTC (47m ago)",
		`id="channel-infrastructure"`, "✗ not_in_channel", "invite the bot to #infrastructure", "3 waiting",
		`id="channel-deploy_approval_alerts"`, "#deploy-approvals", `<span class="badge">@here</span>`,
		"<code>status: [failed, denied]</code>", "<code>user_email: [&#34;!*@bots.*&#34;]</code>", "<code>api_token_name: [&#34;&#34;]</code>",
		`<span class="badge">user group S0123ABCD</span>`, `<span class="badge">user U024BE7LH</span>`,
		`action="/api/v1/integrations/slack/channels/security/test"`,
		f.ts.URL + "/api/v1/integrations/slack/oauth/callback",
		"channels:read", "chat:write",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "<script") {
		t.Error("page has a script")
	}
	// A card without where conditions or mentions shows neither.
	if infra, _, _ := strings.Cut(strings.SplitN(r.body, `id="channel-infrastructure"`, 2)[1], "</section>"); strings.Contains(infra, "Where") || strings.Contains(infra, "Mentions") {
		t.Errorf("infrastructure card shows where or mentions:\n%s", infra)
	}
	h := r.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers %v", h)
	}
	// The inline style sheet is exactly the one the CSP hash allows.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("no style sheet")
	}
	sum := sha256.Sum256([]byte(m[1]))
	if !strings.Contains(h.Get("Content-Security-Policy"), "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Error("the inline style sheet does not match the CSP hash")
	}

	// Disconnected with a problem, and alerts off.
	f.daemon.mu.Lock()
	f.daemon.conn = Connection{Team: "Acme Ops", Problem: "token revoked — reconnect"}
	f.daemon.channels = f.daemon.channels[:2]
	f.daemon.mu.Unlock()
	r = b.get("/")
	for _, want := range []string{"Disconnected", "token revoked — reconnect", "Connect to Slack", `id="alert-off"`, "deploy_approval_alerts.enabled: true"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("disconnected page lacks %q", want)
		}
	}

	// Connected.
	f.daemon.mu.Lock()
	f.daemon.conn = Connection{Connected: true, Team: "Acme <Ops>", BotUser: "@auditfwd"}
	f.daemon.mu.Unlock()
	r = b.get("/")
	for _, want := range []string{"Connected", `id="workspace">Acme &lt;Ops&gt;<`, "@auditfwd", "Reconnect to Slack"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("connected page lacks %q", want)
		}
	}
	if strings.Contains(r.body, `id="instance"`) {
		t.Error("a single instance's page speaks of several")
	}

	// One of several instances on the gateway's database.
	for role, want := range map[string]string{"leader": "This instance is the leader of several", "standby": "This instance is a standby, which makes no Slack calls"} {
		f.daemon.mu.Lock()
		f.daemon.conn = Connection{Connected: true, Team: "Acme", Instance: role}
		f.daemon.mu.Unlock()
		r = b.get("/")
		if !strings.Contains(r.body, want) || !strings.Contains(r.body, "serves this instance only") {
			t.Errorf("%s page lacks %q and the token's scope", role, want)
		}
	}
}

func TestMessagePagesHaveSecurityHeaders(t *testing.T) {
	f := newFixture(t, nil)
	for _, r := range []response{f.browser("", "").get("/"), f.browser("", "").get(callbackPath)} {
		if r.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("status %d headers %v", r.StatusCode, r.Header)
		}
	}
}

func TestManifest(t *testing.T) {
	out := Manifest("https://gw.example.com/")
	var m struct {
		DisplayInformation struct{ Name string } `yaml:"display_information"`
		Features           struct {
			BotUser struct {
				DisplayName string `yaml:"display_name"`
			} `yaml:"bot_user"`
			EventSubscriptions any `yaml:"event_subscriptions"`
		}
		OAuthConfig struct {
			RedirectURLs []string `yaml:"redirect_urls"`
			Scopes       struct{ Bot []string }
		} `yaml:"oauth_config"`
		Settings map[string]any
	}
	if err := yaml.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if m.DisplayInformation.Name != "auditfwd" || m.Features.BotUser.DisplayName != "auditfwd" ||
		strings.Join(m.OAuthConfig.Scopes.Bot, ",") != "channels:read,chat:write" ||
		len(m.OAuthConfig.RedirectURLs) != 1 || m.OAuthConfig.RedirectURLs[0] != "https://gw.example.com/api/v1/integrations/slack/oauth/callback" {
		t.Errorf("manifest:\n%s", out)
	}
	if strings.Contains(out, "event_subscriptions") || m.Features.EventSubscriptions != nil {
		t.Errorf("manifest subscribes to events:\n%s", out)
	}
}

func TestStateStoreIsBounded(t *testing.T) {
	st := newStateStore()
	now := time.Now()
	first := randomToken()
	st.add(first, now)
	for range maxStates * 2 {
		now = now.Add(time.Millisecond)
		st.add(randomToken(), now)
	}
	if len(st.m) > maxStates {
		t.Errorf("%d pending states kept", len(st.m))
	}
	if st.take(first, now) != stateUnknown {
		t.Error("the oldest state was not dropped")
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestTestButtonShowsNonSlackErrorsAsTheyAre(t *testing.T) {
	f := newFixture(t, nil)
	f.daemon.mu.Lock()
	f.daemon.testErr["security"] = errors.New("not connected to Slack: click Connect to Slack first")
	f.daemon.mu.Unlock()
	b := f.admin()
	b.pressTest("security", b.csrf(), nil)
	page := b.get("/").body
	if !strings.Contains(page, "The test message to #security failed: not connected to Slack: click Connect to Slack first.") {
		t.Errorf("page:\n%s", page)
	}
}

func TestSlackExchange(t *testing.T) {
	api := startFakeSlack(t, "http://x/cb")
	exchange := SlackExchange(slack.Options{APIURL: api.URL}, testClientID, testSecret)
	bad := SlackExchange(slack.Options{APIURL: api.URL}, testClientID, "wrong")
	if _, err := bad(t.Context(), browserCode, "http://x/cb"); err == nil || !strings.Contains(err.Error(), "bad_client_secret") {
		t.Errorf("bad secret: err %v", err)
	}
	tok, err := exchange(t.Context(), browserCode, "http://x/cb")
	if err != nil || tok.AccessToken != testToken || tok.TeamID != "T0001" || tok.TeamName != browserTeam ||
		tok.BotUserID != "U0BOT" || tok.AppID == "" || tok.Scope != "channels:read,chat:write" {
		t.Errorf("token %v %+v, err %v", tok, tok.Scope, err)
	}
	if _, err := exchange(t.Context(), browserCode, "http://x/cb"); err == nil || !strings.Contains(err.Error(), "code_already_used") {
		t.Errorf("code reused: err %v", err)
	}
	if _, err := exchange(t.Context(), "other", "http://x/cb"); err == nil || !strings.Contains(err.Error(), "invalid_code") {
		t.Errorf("bad code: err %v", err)
	}
}
