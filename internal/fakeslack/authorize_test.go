package fakeslack

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAuthorizePageAllowAndCancel(t *testing.T) {
	s := start(t)
	const redirect = "http://127.0.0.1:8089/api/v1/integrations/slack/oauth/callback"
	s.SetRedirectURI(redirect)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	q := url.Values{"client_id": {"1.2"}, "scope": {"channels:read,chat:write"}, "redirect_uri": {redirect}, "state": {"st-1"}}
	resp, err := http.Get(s.AuthorizeURL() + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `id="allow"`) || !strings.Contains(string(page), "channels:read,chat:write") {
		t.Fatalf("authorize page: %d\n%s", resp.StatusCode, page)
	}

	approve := func(decision string) url.Values {
		t.Helper()
		resp, err := noFollow.PostForm(strings.TrimSuffix(s.URL, "/api/")+approvePath,
			url.Values{"redirect_uri": {redirect}, "state": {"st-1"}, "decision": {decision}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), redirect+"?") {
			t.Fatalf("%s: status %d Location %q", decision, resp.StatusCode, resp.Header.Get("Location"))
		}
		return loc.Query()
	}
	back := approve("allow")
	if back.Get("state") != "st-1" || back.Get("code") == "" {
		t.Fatalf("allow: %v", back)
	}
	ctx := context.Background()
	a := call(t, ctx, s, "oauth.v2.access", url.Values{"code": {back.Get("code")}, "redirect_uri": {redirect}, "client_id": {"1.2"}, "client_secret": {"x"}})
	if !a.OK {
		t.Fatalf("oauth.v2.access: %+v", a)
	}
	if a := call(t, ctx, s, "oauth.v2.access", url.Values{"code": {back.Get("code")}, "redirect_uri": {redirect}}); a.Error != "code_already_used" {
		t.Errorf("a code used twice: %+v", a)
	}
	if back := approve("cancel"); back.Get("error") != "access_denied" || back.Get("code") != "" {
		t.Errorf("cancel: %v", back)
	}

	// Slack refuses a redirect URI other than the app's.
	q.Set("redirect_uri", "http://evil.example/cb")
	if resp, err := http.Get(s.AuthorizeURL() + "?" + q.Encode()); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("wrong redirect_uri: %v %v", resp.StatusCode, err)
	}
}
