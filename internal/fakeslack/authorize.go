package fakeslack

import (
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// Paths of the OAuth pages, as on slack.com.
const (
	authorizePath = "/oauth/v2/authorize"
	approvePath   = "/oauth/v2/approve"
)

// AuthorizeURL is the fake's OAuth authorize page (slack.authorize_url).
func (s *Server) AuthorizeURL() string {
	return strings.TrimSuffix(s.URL, "/api/") + authorizePath
}

// routes serves the Web API under /api/ and the OAuth pages.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+authorizePath, s.authorize)
	mux.HandleFunc("POST "+approvePath, s.approve)
	mux.HandleFunc("/", s.serve)
	return mux
}

var authorizePage = template.Must(template.New("").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fake Slack: install the app</title></head>
<body>
<h1>The app is requesting permission to access the {{.Team}} Slack workspace</h1>
<p>This is auditfwd's fake Slack: nothing leaves this machine.</p>
<p>Client ID: <code>{{.ClientID}}</code>. Scopes: <code>{{.Scope}}</code>.</p>
<form method="post" action="` + approvePath + `">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<button id="allow" type="submit" name="decision" value="allow">Allow</button>
<button id="cancel" type="submit" name="decision" value="cancel">Cancel</button>
</form>
</body></html>
`))

// authorize shows what the app asks for, with Allow and Cancel, like
// slack.com's page. With SetClientCredentials or SetRedirectURI it refuses
// other values, as Slack does.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	checkClient, clientID := s.checkClient, s.clientID
	checkRedirect, redirectURI := s.checkRedirect, s.redirectURI
	s.mu.Unlock()
	switch {
	case q.Get("client_id") == "" || (checkClient && q.Get("client_id") != clientID):
		http.Error(w, "fake Slack: invalid_client_id", http.StatusBadRequest)
		return
	case !validRedirect(q.Get("redirect_uri")) || (checkRedirect && q.Get("redirect_uri") != redirectURI):
		http.Error(w, "fake Slack: bad_redirect_uri", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "fake Slack: no state", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = authorizePage.Execute(w, map[string]string{
		"Team": "Fake Workspace", "ClientID": q.Get("client_id"), "Scope": q.Get("scope"),
		"RedirectURI": q.Get("redirect_uri"), "State": q.Get("state"),
	})
}

// approve sends the browser back to the app: with a new single-use code
// (for a new bot token of the fake workspace) on Allow, with
// error=access_denied on Cancel.
func (s *Server) approve(w http.ResponseWriter, r *http.Request) {
	back, err := url.Parse(r.PostFormValue("redirect_uri"))
	if err != nil || !validRedirect(back.String()) {
		http.Error(w, "fake Slack: bad_redirect_uri", http.StatusBadRequest)
		return
	}
	q := url.Values{"state": {r.PostFormValue("state")}}
	if r.PostFormValue("decision") == "allow" {
		code := "fake-code-" + randomHex()
		s.AddOAuthCode(code, "xoxb-fake-"+randomHex(), "T0FAKE", "Fake Workspace", "U0BOT")
		q.Set("code", code)
	} else {
		q.Set("error", "access_denied")
	}
	back.RawQuery = q.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func validRedirect(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "http" || p.Scheme == "https") && p.Host != ""
}

func randomHex() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
