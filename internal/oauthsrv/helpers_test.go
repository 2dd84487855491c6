package oauthsrv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	goslack "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/token"
)

const (
	testPassword = "correct horse battery staple"
	testSecret   = "s3cr3t-client-secret-4f9a"
	testToken    = "xoxb-1111-2222-very-secret-token"
	testClientID = "1234.5678"
)

// fakeDaemon records what the server asks of the daemon.
type fakeDaemon struct {
	mu        sync.Mutex
	channels  []delivery.ChannelStatus
	conn      Connection
	tests     []string
	connected []token.Token
	// testErr answers SendTest per channel name; a missing name is unknown.
	testErr map[string]error
}

func newFakeDaemon() *fakeDaemon {
	return &fakeDaemon{
		channels: []delivery.ChannelStatus{
			{Target: config.Target{Name: "security", SlackChannel: "#security", Patterns: []string{"login.complete", "login.*_failed", "mfa_method.*"}},
				LastResult: "ok", LastTime: time.Date(2026, 3, 20, 1, 12, 44, 0, time.UTC)},
			{Target: config.Target{Name: "infrastructure", SlackChannel: "#infrastructure", Patterns: []string{"deploy_approval_request.*", "release.promote"}},
				LastResult: "not_in_channel", LastTime: time.Date(2026, 3, 20, 1, 10, 0, 0, time.UTC),
				LastHint: "invite the bot to #infrastructure", DeadLetters: 3, Queue: 0},
		},
		testErr: map[string]error{
			"security":       nil,
			"infrastructure": fmt.Errorf("post test message: %w", goslack.SlackErrorResponse{Err: "not_in_channel"}),
		},
	}
}

func (d *fakeDaemon) Channels() []delivery.ChannelStatus {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]delivery.ChannelStatus(nil), d.channels...)
}

func (d *fakeDaemon) Connection() Connection {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn
}

func (d *fakeDaemon) SendTest(ctx context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err, ok := d.testErr[name]
	if !ok {
		return fmt.Errorf("test %q: %w", name, ErrUnknownChannel)
	}
	d.tests = append(d.tests, name)
	return err
}

func (d *fakeDaemon) Connected(t token.Token) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.connected = append(d.connected, t)
	d.conn = Connection{Connected: true, Team: t.TeamName, BotUser: t.BotUserID}
}

func (d *fakeDaemon) testCalls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.tests...)
}

func (d *fakeDaemon) connectedTokens() []token.Token {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]token.Token(nil), d.connected...)
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a server under test on a real loopback listener.
type fixture struct {
	t         *testing.T
	srv       *Server
	ts        *httptest.Server
	daemon    *fakeDaemon
	logs      *syncBuffer
	tokenPath string

	mu        sync.Mutex
	now       time.Time
	exchanges []string // codes passed to Exchange
	exchErr   error
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	f := &fixture{
		t:         t,
		daemon:    newFakeDaemon(),
		logs:      &syncBuffer{},
		tokenPath: t.TempDir() + "/slack-token.json",
		now:       time.Date(2026, 3, 20, 2, 0, 0, 0, time.UTC),
	}
	f.ts = httptest.NewUnstartedServer(nil)
	publicURL := "http://" + f.ts.Listener.Addr().String()
	o := Options{
		PublicURL:    publicURL,
		AuthorizeURL: "https://slack.example/oauth/v2/authorize",
		ClientID:     testClientID,
		ClientSecret: testSecret,
		Password:     testPassword,
		TokenPath:    f.tokenPath,
		Exchange:     f.exchange,
		Daemon:       f.daemon,
		Logger:       slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:          f.clock,
	}
	if mutate != nil {
		mutate(&o)
	}
	f.srv = New(o)
	f.ts.Config.Handler = f.srv.Handler()
	f.ts.Start()
	t.Cleanup(f.ts.Close)
	t.Cleanup(func() {
		// Whatever the test did, no secret reached a log line.
		for _, secret := range []string{testSecret, testToken, testPassword} {
			if strings.Contains(f.logs.String(), secret) {
				t.Errorf("a secret (%.6s…) appears in the log:\n%s", secret, f.logs.String())
			}
		}
	})
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func (f *fixture) exchange(ctx context.Context, code, redirectURI string) (token.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchanges = append(f.exchanges, code)
	if want := f.ts.URL + callbackPath; redirectURI != want {
		return token.Token{}, fmt.Errorf("redirect_uri %q, want %q", redirectURI, want)
	}
	if f.exchErr != nil {
		return token.Token{}, f.exchErr
	}
	return token.Token{AccessToken: testToken, TeamID: "T0001", TeamName: "Acme Ops", BotUserID: "U0BOT",
		AppID: "A0APP", Scope: "channels:read,chat:write"}, nil
}

func (f *fixture) setExchErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchErr = err
}

func (f *fixture) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.exchanges)
}

// browser is one browser: its own cookie jar, optional Basic credentials,
// and no redirect following, so tests see each hop.
type browser struct {
	f      *fixture
	client *http.Client
	user   string
	pass   string
	// bodies collects every response body, to check for leaked secrets.
	bodies *[]string
}

func (f *fixture) browser(user, pass string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	var bodies []string
	b := &browser{f: f, user: user, pass: pass, bodies: &bodies,
		client: &http.Client{
			Jar:           jar,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	f.t.Cleanup(func() {
		for _, body := range *b.bodies {
			for _, secret := range []string{testSecret, testToken, testPassword} {
				if strings.Contains(body, secret) {
					f.t.Errorf("a secret (%.6s…) appears in a response body:\n%s", secret, body)
				}
			}
		}
	})
	return b
}

func (f *fixture) admin() *browser { return f.browser(adminUser, testPassword) }

type response struct {
	*http.Response
	body string
}

func (b *browser) do(method, path string, form url.Values, hdr http.Header) response {
	b.f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = b.f.ts.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if b.user != "" || b.pass != "" {
		req.SetBasicAuth(b.user, b.pass)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.f.t.Fatal(err)
	}
	*b.bodies = append(*b.bodies, string(data))
	for k, vs := range resp.Header {
		*b.bodies = append(*b.bodies, k+": "+strings.Join(vs, ", "))
	}
	return response{resp, string(data)}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil, nil) }

// pressConnect is the Connect button: a POST of the page's CSRF token.
func (b *browser) pressConnect(csrf string, hdr http.Header) response {
	if hdr == nil {
		hdr = http.Header{"Origin": {b.f.ts.URL}, "Sec-Fetch-Site": {"same-origin"}}
	}
	return b.do(http.MethodPost, startPath, url.Values{"csrf": {csrf}}, hdr)
}

// startInstall presses Connect and returns the state sent to Slack.
func (b *browser) startInstall() string {
	b.f.t.Helper()
	r := b.pressConnect(b.csrf(), nil)
	if r.StatusCode != http.StatusFound {
		b.f.t.Fatalf("start: status %d, want 302; body %s", r.StatusCode, r.body)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		b.f.t.Fatal(err)
	}
	return loc.Query().Get("state")
}

// callback is Slack sending this browser back with code and state.
func (b *browser) callback(state, code string) response {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	if code != "" {
		q.Set("code", code)
	}
	return b.get(callbackPath + "?" + q.Encode())
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads the page and returns the token of its Test forms.
func (b *browser) csrf() string {
	b.f.t.Helper()
	r := b.get("/")
	m := csrfInput.FindStringSubmatch(r.body)
	if m == nil {
		b.f.t.Fatalf("no csrf field on the page (status %d)", r.StatusCode)
	}
	return m[1]
}

func (b *browser) pressTest(name, csrf string, hdr http.Header) response {
	form := url.Values{}
	if csrf != "" {
		form.Set("csrf", csrf)
	}
	if hdr == nil {
		hdr = http.Header{}
	}
	if hdr.Get("Origin") == "" && hdr.Get("Sec-Fetch-Site") == "" {
		hdr.Set("Origin", b.f.ts.URL)
		hdr.Set("Sec-Fetch-Site", "same-origin")
	}
	return b.do(http.MethodPost, "/api/v1/integrations/slack/channels/"+url.PathEscape(name)+"/test", form, hdr)
}
