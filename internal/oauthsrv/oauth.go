package oauthsrv

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/auditfwd/auditfwd/internal/token"
)

const (
	stateCookie = "auditfwd_oauth_state"
	stateTTL    = 10 * time.Minute
	// maxStates bounds the pending installs; only a logged-in admin starts one.
	maxStates = 64
)

// start sends the browser to Slack's authorize page with a fresh state that
// is also set as a cookie on the callback path. It is the Connect button's
// POST with the page's CSRF token: another site can neither start an
// install nor reset the state cookie of one in progress.
func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	if !s.sameSiteForm(w, r) {
		return
	}
	var missing string
	switch {
	case s.o.ClientID == "":
		missing = "the Slack client ID (SLACK_CLIENT_ID or slack.client_id)"
	case s.o.ClientSecret == "":
		missing = "the Slack client secret (SLACK_CLIENT_SECRET or slack.client_secret_file)"
	case s.o.PublicURL == "":
		missing = "admin.public_url"
	case s.o.AuthorizeURL == "":
		missing = "slack.authorize_url"
	case s.o.Exchange == nil:
		missing = "the OAuth code exchange"
	}
	if missing != "" {
		s.message(w, http.StatusServiceUnavailable, "Slack app not configured",
			"Cannot connect to Slack: "+missing+" is not set. Create the Slack app from the manifest shown on the admin page, configure it, and restart auditfwd.")
		return
	}
	authURL, err := url.Parse(s.o.AuthorizeURL)
	if err != nil {
		s.message(w, http.StatusServiceUnavailable, "Slack app not configured",
			"slack.authorize_url is not a valid URL.")
		return
	}
	state := randomToken()
	s.states.add(state, s.now())
	http.SetCookie(w, &http.Cookie{
		Name:     stateCookie,
		Value:    state,
		Path:     callbackPath,
		MaxAge:   int(stateTTL / time.Second),
		HttpOnly: true,
		Secure:   s.secure,
		SameSite: http.SameSiteLaxMode,
	})
	q := authURL.Query()
	q.Set("client_id", s.o.ClientID)
	q.Set("scope", OAuthScopes)
	q.Set("redirect_uri", redirectURL(s.o.PublicURL))
	q.Set("state", state)
	authURL.RawQuery = q.Encode()
	s.log.Info("slack install started", "remote", s.clientIP(r))
	http.Redirect(w, r, authURL.String(), http.StatusFound)
}

// slackErrorCode is what we echo from Slack's ?error=; anything else is not shown.
var slackErrorCode = regexp.MustCompile(`^[a-z0-9_.]{1,64}$`)

// callback is where Slack sends the browser back. It has no Basic auth: the
// state, matched against the cookie the start route set in this browser,
// proves that this admin started this install.
func (s *Server) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state, code, slackErr := q.Get("state"), q.Get("code"), q.Get("error")
	// The cookie is single-use like the state: clear it whatever happens.
	http.SetCookie(w, &http.Cookie{
		Name: stateCookie, Value: "", Path: callbackPath, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})

	reject := func(reason, text string) {
		s.unauthLog(func() { s.log.Warn("slack install refused", "reason", reason, "remote", s.clientIP(r)) })
		s.message(w, http.StatusBadRequest, "Slack connection not completed",
			text+" Nothing was changed. Go back to the admin page and click Connect to Slack again.")
	}

	if state == "" {
		reject("no_state", "The link has no state parameter, so it cannot be matched to an install you started.")
		return
	}
	c, err := r.Cookie(stateCookie)
	if err != nil || c.Value == "" {
		reject("no_cookie", "This browser did not start this Slack install (its state cookie is missing).")
		return
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(state)) != 1 {
		reject("state_mismatch", "This Slack install was started in another browser or tab (the state does not match this browser's).")
		return
	}
	switch s.states.take(state, s.now()) {
	case stateUnknown:
		reject("state_unknown", "This install link is unknown or was already used.")
		return
	case stateExpired:
		reject("state_expired", "This install link expired: the Slack approval has to finish within 10 minutes.")
		return
	}

	if slackErr != "" {
		shown := "unknown"
		if slackErrorCode.MatchString(slackErr) {
			shown = slackErr
		}
		s.log.Info("slack install cancelled", "error", shown)
		text := "Slack install failed (" + shown + ")."
		if shown == "access_denied" {
			text = "Slack install was cancelled (access_denied)."
		}
		s.message(w, http.StatusBadRequest, "Slack connection not completed",
			text+" Nothing was changed. Click Connect to Slack to try again.")
		return
	}
	if code == "" {
		reject("no_code", "Slack sent no code.")
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), exchangeTimeout)
	defer cancel()
	t, err := s.o.Exchange(ctx, code, redirectURL(s.o.PublicURL))
	if err == nil && t.AccessToken == "" {
		err = fmt.Errorf("Slack returned no access token")
	}
	if err != nil {
		why := s.redact(err.Error(), t.AccessToken)
		s.log.Error("slack install failed: code exchange", "err", why)
		s.message(w, http.StatusBadGateway, "Slack connection failed",
			"Slack did not accept the install: "+why+". Nothing was changed. Check the client ID and secret and that the app's redirect URL is "+redirectURL(s.o.PublicURL)+", then connect again.")
		return
	}
	if t.InstalledAt.IsZero() {
		t.InstalledAt = s.now().UTC()
	}
	if err := token.Save(s.o.TokenPath, t); err != nil {
		why := s.redact(err.Error(), t.AccessToken)
		s.log.Error("slack install failed: saving the token", "err", why)
		s.message(w, http.StatusInternalServerError, "Slack connection failed",
			"Slack accepted the install but the token could not be saved: "+why+". Make the state directory writable (free space, permissions) and connect again.")
		return
	}
	team := t.TeamName
	if team == "" {
		team = t.TeamID
	}
	if env := s.tokenOverride(); env != "" {
		// The daemon would go back to the environment's token within
		// seconds: say so instead of pretending to switch.
		s.log.Warn("Slack install saved a new token, but "+env+" is set and stays in force: delivery keeps using the environment's token",
			"team", t.TeamName, "team_id", t.TeamID, "token_file", s.o.TokenPath,
			"fix", "remove "+env+" from auditfwd's environment and restart it to use the saved token")
		s.setFlash(w, flash{Text: "Slack accepted the install for the workspace " + team + " and the token was saved, but " + env +
			" is set in auditfwd's environment and stays in force: delivery keeps using that token.",
			Hint: "Remove " + env + " from auditfwd's environment and restart auditfwd to use this connection."})
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.log.Info("slack connected", "team", t.TeamName, "team_id", t.TeamID, "bot_user", t.BotUserID,
		"scope", t.Scope, "token_file", s.o.TokenPath)
	if s.o.Daemon != nil {
		s.o.Daemon.Connected(t)
	}
	s.setFlash(w, flash{OK: true, Text: "Connected to the Slack workspace " + team + "."})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("oauthsrv: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

type stateResult int

const (
	stateOK stateResult = iota
	stateUnknown
	stateExpired
)

// stateStore holds the pending OAuth states with their expiry.
type stateStore struct {
	mu sync.Mutex
	m  map[string]time.Time
}

func newStateStore() *stateStore { return &stateStore{m: make(map[string]time.Time)} }

func (st *stateStore) add(state string, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for k, exp := range st.m {
		if !now.Before(exp) {
			delete(st.m, k)
		}
	}
	for len(st.m) >= maxStates { // drop the oldest pending install
		var oldest string
		var oldestExp time.Time
		for k, exp := range st.m {
			if oldest == "" || exp.Before(oldestExp) {
				oldest, oldestExp = k, exp
			}
		}
		delete(st.m, oldest)
	}
	st.m[state] = now.Add(stateTTL)
}

// take consumes state: whatever the result, it cannot be used again.
func (st *stateStore) take(state string, now time.Time) stateResult {
	st.mu.Lock()
	defer st.mu.Unlock()
	exp, ok := st.m[state]
	if !ok {
		return stateUnknown
	}
	delete(st.m, state)
	if !now.Before(exp) {
		return stateExpired
	}
	return stateOK
}

// tokenOverride is the environment variable whose token wins over a saved one, or "".
func (s *Server) tokenOverride() string {
	if s.o.TokenOverride == nil {
		return ""
	}
	return s.o.TokenOverride()
}
