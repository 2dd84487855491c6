package oauthsrv

import (
	"strings"
	"testing"
)

// Slack tokens are redacted from error text wherever they sit: after an
// underscore or a letter (no word boundary), URL-encoded, JSON-escaped, in
// upper case.
func TestRedactCatchesTokensAtAnyBoundary(t *testing.T) {
	s := New(Options{ClientSecret: "client-secret-1"})
	for _, in := range []string{
		"invalid_auth: xoxb-1111-2222-abcdefABCDEF",
		"token=_xoxb-1111-2222-abcdef",
		"prefix_xoxp-3333-4444-5555-abcdef.",
		"tokenxoxe-1-abcdef",
		"xoxe.xoxp-1-abcdefgh",
		"url?t=xoxb%2D1111%2D2222%2Dabcdef&x=1",
		`{"token":"xoxb\u002d1111\u002d2222\u002dabcdef"}`,
		"XOXB-1111-2222-ABCDEF",
		"app token xapp-1-A111-222-abcdef",
	} {
		out := s.redact(in, "")
		for _, secret := range []string{"1111", "2222", "abcdef", "ABCDEF", "3333", "A111"} {
			if strings.Contains(out, secret) && strings.Contains(in, secret) {
				t.Errorf("redact(%q) = %q: %q is still there", in, out, secret)
			}
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("redact(%q) = %q: nothing redacted", in, out)
		}
	}
	if got := s.redact("the client-secret-1 leaked", ""); strings.Contains(got, "client-secret-1") {
		t.Errorf("client secret not redacted: %q", got)
	}
	if got := s.redact("no token here: x-oxb, xo-xb", ""); got != "no token here: x-oxb, xo-xb" {
		t.Errorf("text without a token changed: %q", got)
	}
}
