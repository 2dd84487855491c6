package oauthsrv

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/token"
)

// Connection is the Slack connection as the delivery side sees it.
type Connection struct {
	Connected bool
	Team      string
	BotUser   string
	Problem   string // why it is disconnected, e.g. "token revoked — reconnect"
	// Instance is "leader" or "standby" when several instances share the
	// gateway's database (audit_log.source: postgres), "" otherwise: the
	// page then says that a token saved here serves this instance only.
	Instance string
}

// Daemon is what the admin server needs from the running daemon.
type Daemon interface {
	// Channels lists the configured channels, and the deploy approval alert
	// (Alert true) when it is enabled, in config order.
	Channels() []delivery.ChannelStatus
	Connection() Connection
	// SendTest posts the test message to the config channel name (or
	// deploy_approval_alerts). An unknown name gives an error wrapping
	// ErrUnknownChannel.
	SendTest(ctx context.Context, name string) error
	// Connected hands over a token that was just saved, so delivery starts
	// (and held events flow) without a restart. It must not block for long.
	Connected(t token.Token)
}

// ErrUnknownChannel is wrapped by Daemon.SendTest for a name that is not configured.
var ErrUnknownChannel = errors.New("unknown channel")

// Options are the server's dependencies. Everything is injected: the server
// reads no environment and no config file.
type Options struct {
	// PublicURL is admin.public_url, e.g. https://gw.example.com. The OAuth
	// redirect_uri is redirectURL(PublicURL); cookies are Secure when it is https.
	PublicURL    string
	AuthorizeURL string // slack.authorize_url
	ClientID     string
	// ClientSecret is only used to refuse to start an install without one and
	// to scrub it from any error text; the Exchange func holds its own copy.
	ClientSecret string
	// Password is the admin password; "" disables every route but the
	// callback (503).
	Password  string
	TokenPath string // where the OAuth token is saved (mode 0600)
	// Exchange trades an OAuth code for a token (oauth.v2.access).
	Exchange func(ctx context.Context, code, redirectURI string) (token.Token, error)
	Daemon   Daemon
	// TokenOverride names the environment variable whose token wins over
	// the saved one ("" when none is set): the page then says that a
	// reconnect saves a token that is not used. nil: never.
	TokenOverride func() string
	// TrustedProxies are admin.trusted_proxies: a request from one of them
	// is counted by the login limiter under the client address the proxy
	// names in X-Forwarded-For.
	TrustedProxies []netip.Prefix
	// BrowserKey signs the known-browser cookie (LoadBrowserKey); nil: a
	// key for this process only, so browsers are known until a restart.
	BrowserKey []byte
	Logger     *slog.Logger     // nil: discard
	Now        func() time.Time // nil: time.Now
}

// Server serves the admin page and the OAuth flow. Build it with New.
type Server struct {
	o          Options
	log        *slog.Logger
	now        func() time.Time
	key        []byte // per-process HMAC key for the CSRF token and the flash cookie
	browserKey []byte // HMAC key of the known-browser cookie
	secure     bool   // cookies get Secure
	// formTargets is " " and slack.authorize_url's origin, for the CSP's
	// form-action ("" when it has none).
	formTargets string
	states      *stateStore
	failures    *loginLimiter
	// proxyHint and globalLog keep log lines a visitor can trigger rare;
	// logGate bounds the rest of those that unauthenticated requests cause.
	proxyHint, globalLog everyMinute
	logGate              *logGate
	cop                  *http.CrossOriginProtection
	mux                  *http.ServeMux
}

const (
	callbackPath = "/api/v1/integrations/slack/oauth/callback"
	startPath    = "/api/v1/integrations/slack/oauth/start"
	testPattern  = "POST /api/v1/integrations/slack/channels/{name}/test"
	// OAuthScopes are the bot scopes the app asks for.
	OAuthScopes = "channels:read,chat:write"

	testTimeout     = 30 * time.Second
	exchangeTimeout = 30 * time.Second
)

// redirectURL is the exact redirect URL to register with Slack.
func redirectURL(publicURL string) string {
	return strings.TrimRight(publicURL, "/") + callbackPath
}

// New builds a server from o.
func New(o Options) *Server {
	s := &Server{
		o:        o,
		log:      o.Logger,
		now:      o.Now,
		key:      make([]byte, 32),
		states:   newStateStore(),
		failures: newLoginLimiter(defaultLimits),
		logGate:  newLogGate(),
		cop:      http.NewCrossOriginProtection(),
		mux:      http.NewServeMux(),
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if _, err := rand.Read(s.key); err != nil {
		panic("oauthsrv: no randomness: " + err.Error()) // crypto/rand never fails on Linux
	}
	s.browserKey = o.BrowserKey
	if len(s.browserKey) == 0 {
		s.browserKey = make([]byte, browserKeyLen)
		if _, err := rand.Read(s.browserKey); err != nil {
			panic("oauthsrv: no randomness: " + err.Error())
		}
	}
	if u, err := url.Parse(o.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		s.secure = strings.EqualFold(u.Scheme, "https")
		// Behind a proxy that rewrites Host, the browser's Origin is the public one.
		if err := s.cop.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
			s.log.Warn("admin.public_url is not a usable origin", "public_url", o.PublicURL, "err", err)
		}
	}
	s.cop.SetDenyHandler(http.HandlerFunc(s.crossOriginRefused))
	if u, err := url.Parse(o.AuthorizeURL); err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" &&
		!strings.ContainsAny(u.Host, " ;,'") {
		s.formTargets = " " + u.Scheme + "://" + u.Host
	}

	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.Handle("POST "+startPath, s.cop.Handler(http.HandlerFunc(s.start)))
	s.mux.HandleFunc("GET "+callbackPath, s.callback)
	s.mux.Handle(testPattern, s.cop.Handler(http.HandlerFunc(s.test)))
	return s
}

// Handler returns the admin handler: every route but the OAuth callback
// requires the admin password.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header(), s.formTargets)
		if r.URL.Path == callbackPath {
			// Slack's redirect carries no credentials; the state and its cookie
			// authenticate the browser instead.
			s.mux.ServeHTTP(w, r)
			return
		}
		if s.o.Password == "" {
			s.message(w, http.StatusServiceUnavailable, "Admin page disabled",
				"No admin password is configured, so the admin page is switched off. "+
					"Set AUDITFWD_ADMIN_PASSWORD or admin.password_file and restart auditfwd.")
			return
		}
		if !s.authorize(w, r) {
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers of every admin response. formTargets
// are the origins a form may lead to besides 'self': the Connect button's
// POST redirects to Slack's authorize page, and browsers apply form-action
// to that redirect too.
func securityHeaders(h http.Header, formTargets string) {
	h.Set("Content-Security-Policy", "default-src 'self'; style-src "+styleHash+"; base-uri 'none'; form-action 'self'"+formTargets+"; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// slackToken matches Slack tokens (xoxb-, xoxp-, xoxe-…, xapp-) wherever
// they start (no word boundary: "_xoxb-…" and "tokenxoxb-…" are tokens
// too), in any case, with the dash URL-encoded (%2D) or JSON-escaped
// (\u002d), and runs on over the characters those encodings add.
var slackToken = regexp.MustCompile(`(?i)(xox[a-z]|xapp)(?:-|%2d|\\u002d)[a-z0-9%_\\-]+`)

// redact removes the client secret, tok and anything shaped like a Slack
// token from text bound for a log or a page.
func (s *Server) redact(text string, tok string) string {
	for _, secret := range []string{s.o.ClientSecret, tok} {
		if len(secret) >= 4 {
			text = strings.ReplaceAll(text, secret, "[redacted]")
		}
	}
	return slackToken.ReplaceAllString(text, "$1-[redacted]")
}
