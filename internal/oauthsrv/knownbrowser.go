package oauthsrv

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// A successful login sets a signed "known browser" cookie. Its holder is
// limited only by its own wrong passwords, never by the ceiling for all
// clients nor by its address's: however many addresses guess, and whatever
// address a local process names in X-Forwarded-For, an admin who logged in
// from this browser before gets the login prompt and is let in. The HMAC
// key lives in state_dir, so the cookie survives restarts.
const (
	browserCookie = "auditfwd_known_browser"
	browserTTL    = 30 * 24 * time.Hour
	// browserRefresh: a cookie older than this is issued again on the next
	// login, so a browser in use stays known.
	browserRefresh = 24 * time.Hour
	browserKeyLen  = 32
	browserIDLen   = 16
)

// knownBrowser returns the id of the browser's valid known-browser cookie
// and when it was issued; ok is false without one.
func (s *Server) knownBrowser(r *http.Request, now time.Time) (id string, issued time.Time, ok bool) {
	c, err := r.Cookie(browserCookie)
	if err != nil {
		return "", time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != browserIDLen+8+sha256.Size {
		return "", time.Time{}, false
	}
	payload, sig := raw[:browserIDLen+8], raw[browserIDLen+8:]
	if !hmac.Equal(sig, s.browserMAC(payload)) {
		return "", time.Time{}, false
	}
	issued = time.Unix(int64(binary.BigEndian.Uint64(payload[browserIDLen:])), 0)
	if age := now.Sub(issued); age >= browserTTL || age < -time.Minute {
		return "", time.Time{}, false
	}
	return base64.RawURLEncoding.EncodeToString(payload[:browserIDLen]), issued, true
}

// setKnownBrowser issues the cookie after a successful login: a new one, or
// the browser's own again (same id) when it is older than browserRefresh.
func (s *Server) setKnownBrowser(w http.ResponseWriter, r *http.Request, now time.Time) {
	id, issued, ok := s.knownBrowser(r, now)
	if ok && now.Sub(issued) < browserRefresh {
		return
	}
	payload := make([]byte, browserIDLen+8)
	if raw, err := base64.RawURLEncoding.DecodeString(id); ok && err == nil && len(raw) == browserIDLen {
		copy(payload, raw)
	} else if _, err := rand.Read(payload[:browserIDLen]); err != nil {
		panic("oauthsrv: no randomness: " + err.Error())
	}
	binary.BigEndian.PutUint64(payload[browserIDLen:], uint64(now.Unix()))
	value := base64.RawURLEncoding.EncodeToString(append(payload, s.browserMAC(payload)...))
	http.SetCookie(w, &http.Cookie{
		Name: browserCookie, Value: value, Path: "/", MaxAge: int(browserTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (s *Server) browserMAC(payload []byte) []byte {
	m := hmac.New(sha256.New, s.browserKey)
	m.Write([]byte("known-browser\x00"))
	m.Write(payload)
	return m.Sum(nil)
}

// LoadBrowserKey returns the known-browser cookie's HMAC key from path,
// creating the file (mode 0600) with a new random key when there is none.
// A file that is a symbolic link, belongs to another user, is readable by
// group or others, or does not hold a key is an error that says how to fix
// it; the caller then uses a key of its own for this run.
func LoadBrowserKey(path string) ([]byte, error) {
	f, err := fsutil.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return createBrowserKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("admin cookie key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("admin cookie key: %w", err)
	}
	if err := fsutil.CheckOwner(path, fi, 0o077, "chmod 600 "+path); err != nil {
		return nil, fmt.Errorf("admin cookie key: %w", err)
	}
	key := make([]byte, browserKeyLen+1)
	n, err := io.ReadFull(f, key)
	if n != browserKeyLen || !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("admin cookie key %s does not hold a %d-byte key: remove it (rm %s) and auditfwd makes a new one (browsers then log in again)", path, browserKeyLen, path)
	}
	return key[:browserKeyLen], nil
}

func createBrowserKey(path string) ([]byte, error) {
	key := make([]byte, browserKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("admin cookie key: %w", err)
	}
	f, err := fsutil.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadBrowserKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("admin cookie key: %w", err)
	}
	_, werr := f.Write(key)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("admin cookie key %s: %w", path, err)
	}
	return key, nil
}
