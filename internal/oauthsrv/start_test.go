package oauthsrv

import (
	"net/http"
	"strings"
	"testing"
)

// Connect is a POST with the page's CSRF token: a cross-site request can
// neither start an install nor reset the state cookie of one in progress.
func TestConnectRefusesCrossSiteAndGet(t *testing.T) {
	f := newFixture(t, nil)
	b := f.admin()
	good := b.csrf()
	state := b.startInstall() // an install in progress in this browser

	for _, tc := range []struct {
		name   string
		method string
		csrf   string
		hdr    http.Header
		want   int
	}{
		{"cross-site GET (a link or an image on another site)", http.MethodGet, "", http.Header{"Sec-Fetch-Site": {"cross-site"}}, http.StatusMethodNotAllowed},
		{"plain GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed},
		{"cross-site POST with the token", http.MethodPost, good, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}, http.StatusForbidden},
		{"POST without a token", http.MethodPost, "", nil, http.StatusForbidden},
		{"POST with a forged token", http.MethodPost, strings.Repeat("A", 43), nil, http.StatusForbidden},
	} {
		var r response
		if tc.method == http.MethodGet {
			r = b.do(http.MethodGet, startPath, nil, tc.hdr)
		} else {
			r = b.pressConnect(tc.csrf, tc.hdr)
		}
		if r.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, r.StatusCode, tc.want)
		}
		for _, c := range r.Cookies() {
			if c.Name == stateCookie {
				t.Errorf("%s: the state cookie was set again: %+v", tc.name, c)
			}
		}
	}
	// The install in progress still completes.
	if r := b.callback(state, "code-1"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("callback of the install in progress: status %d, want 303; body %s", r.StatusCode, r.body)
	}
}

// The Connect form posts to the page itself and is redirected to Slack:
// the CSP's form-action allows exactly that origin too.
func TestContentSecurityPolicyAllowsTheRedirectToSlack(t *testing.T) {
	f := newFixture(t, nil)
	csp := f.admin().get("/").Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action 'self' https://slack.example;") {
		t.Errorf("CSP %q: form-action does not allow the authorize URL's origin", csp)
	}
	for _, u := range []string{"https://x.example/a'; script-src *", "https://x.example;script-src:1/", "https://x.example'/", "javascript:alert(1)"} {
		if got := New(Options{AuthorizeURL: u}).formTargets; strings.ContainsAny(got, ";'*") || strings.Contains(got, "javascript") {
			t.Errorf("authorize URL %q reached the CSP as %q", u, got)
		}
	}
}
