package oauthsrv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

const (
	csrfCookie  = "auditfwd_csrf"
	csrfField   = "csrf"         // hidden form field
	csrfHeader  = "X-CSRF-Token" // for scripts that send JSON
	flashCookie = "auditfwd_flash"
)

// The CSRF token is an HMAC, under a per-process key, of a random session id
// kept in an HttpOnly cookie. Another site can neither read the token from
// the page nor forge it for a cookie it planted. A restart invalidates open
// pages: reloading fixes that.

// csrfSession returns the browser's session id, setting a new cookie if it has none.
func (s *Server) csrfSession(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return c.Value
	}
	id := randomToken()
	http.SetCookie(w, &http.Cookie{
		Name: csrfCookie, Value: id, Path: "/",
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	return id
}

func (s *Server) csrfToken(session string) string {
	return base64.RawURLEncoding.EncodeToString(s.mac("csrf", session))
}

func (s *Server) mac(purpose, data string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(data))
	return m.Sum(nil)
}

var errCrossOrigin = errors.New("cross-origin request")

// checkCSRF refuses a state-changing request that did not come from our own page.
// The Origin/Sec-Fetch-Site check already ran (CrossOriginProtection); a
// cross-origin Referer without Origin is refused here, and the token must match.
func (s *Server) checkCSRF(r *http.Request) error {
	if r.Header.Get("Origin") == "" && r.Header.Get("Sec-Fetch-Site") == "" {
		if ref := r.Header.Get("Referer"); ref != "" && !s.sameOrigin(r, ref) {
			return errCrossOrigin
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return errors.New("no session cookie")
	}
	sent := r.Header.Get(csrfHeader)
	if sent == "" {
		sent = r.PostFormValue(csrfField)
	}
	got, err := base64.RawURLEncoding.DecodeString(sent)
	if err != nil || !hmac.Equal(got, s.mac("csrf", c.Value)) {
		return errors.New("bad csrf token")
	}
	return nil
}

// sameOrigin reports whether ref is on this server: the Host the request came
// to, or admin.public_url.
func (s *Server) sameOrigin(r *http.Request, ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	pub, err := url.Parse(s.o.PublicURL)
	return err == nil && pub.Host != "" && strings.EqualFold(u.Scheme, pub.Scheme) && strings.EqualFold(u.Host, pub.Host)
}

func (s *Server) crossOriginRefused(w http.ResponseWriter, r *http.Request) {
	s.log.Warn("admin request refused: cross-origin", "remote", s.clientIP(r), "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	s.message(w, http.StatusForbidden, "Refused",
		"This request came from another site, so auditfwd refused it. Use the buttons on the admin page itself.")
}

// flash is a one-shot message shown on the next page view, carried in a
// signed cookie across the redirect (post/redirect/get).
type flash struct {
	OK   bool   `json:"ok"`
	Text string `json:"text"`
	Hint string `json:"hint,omitempty"`
}

func (s *Server) setFlash(w http.ResponseWriter, f flash) {
	// Browsers drop cookies over 4 KB: keep the message well below.
	f.Text, f.Hint = cut(f.Text, 1200), cut(f.Hint, 600)
	data, _ := json.Marshal(f)
	payload := base64.RawURLEncoding.EncodeToString(data)
	sig := base64.RawURLEncoding.EncodeToString(s.mac("flash", payload))
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: payload + "." + sig, Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash reads and clears the flash; a missing or forged one gives nil.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{
		Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
	payload, sig, ok := strings.Cut(c.Value, ".")
	if !ok {
		return nil
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac("flash", payload)) {
		return nil
	}
	data, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil
	}
	var f flash
	if json.Unmarshal(data, &f) != nil {
		return nil
	}
	return &f
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
