package oauthsrv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/slack"
)

//go:embed assets/page.html assets/message.html assets/admin.css
var assets embed.FS

// styleSheet is inlined into every page (so even the 401 and callback pages
// are styled without another authenticated request) and allowed by its hash
// in the Content-Security-Policy.
var styleSheet = func() string {
	data, err := assets.ReadFile("assets/admin.css")
	if err != nil {
		panic(err)
	}
	return string(data)
}()

var styleHash = func() string {
	sum := sha256.Sum256([]byte(styleSheet))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}()

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(styleSheet) },
	"testPath": func(name string) string {
		return "/api/v1/integrations/slack/channels/" + url.PathEscape(name) + "/test"
	},
	"when": func(t, now time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC") + " (" + ago(now.Sub(t)) + ")"
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"card":    func(c delivery.ChannelStatus, p pageData) cardData { return cardData{C: c, P: p} },
	"mention": describeMention,
}).ParseFS(assets, "assets/page.html", "assets/message.html"))

func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
}

// describeMention says who a mention entry pings: "@here", "user group S0123ABCD".
func describeMention(m string) string {
	switch {
	case m == "here" || m == "channel":
		return "@" + m
	case strings.HasPrefix(m, "S"):
		return "user group " + m
	default:
		return "user " + m
	}
}

// cardData is one channel card with the page around it (for the CSRF token and the time).
type cardData struct {
	C delivery.ChannelStatus
	P pageData
}

type pageData struct {
	Conn        Connection
	EnvToken    string // the environment variable whose token is in force, or ""
	Channels    []delivery.ChannelStatus
	Alert       *delivery.ChannelStatus // nil: deploy approval alerts are off
	Flash       *flash
	CSRF        string
	RedirectURL string
	Manifest    string
	Now         time.Time
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	d := pageData{
		Flash:       s.takeFlash(w, r),
		CSRF:        s.csrfToken(s.csrfSession(w, r)),
		RedirectURL: redirectURL(s.o.PublicURL),
		Manifest:    Manifest(s.o.PublicURL),
		Now:         s.now(),
		EnvToken:    s.tokenOverride(),
	}
	if s.o.Daemon != nil {
		d.Conn = s.o.Daemon.Connection()
		for _, c := range s.o.Daemon.Channels() {
			if c.Alert {
				d.Alert = &c
				continue
			}
			d.Channels = append(d.Channels, c)
		}
	}
	s.render(w, http.StatusOK, "page.html", d)
}

// render executes a template into a buffer first so a template error is a
// clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("admin page template failed", "template", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// message answers with a small page that explains what happened in plain words.
func (s *Server) message(w http.ResponseWriter, status int, title, text string) {
	s.render(w, status, "message.html", struct{ Title, Text string }{title, text})
}

// testResult is the JSON answer of the Test route.
type testResult struct {
	OK           bool   `json:"ok"`
	Channel      string `json:"channel"`
	SlackChannel string `json:"slack_channel,omitempty"`
	Error        string `json:"error,omitempty"` // Slack's reason, e.g. not_in_channel
	Message      string `json:"message"`
	Hint         string `json:"hint,omitempty"`
}

// test is the Test button: it asks the daemon to send the test message and
// reports Slack's answer in plain words.
func (s *Server) test(w http.ResponseWriter, r *http.Request) {
	if !s.sameSiteForm(w, r) {
		return
	}
	name := r.PathValue("name")
	res := testResult{Channel: name}
	if s.o.Daemon != nil {
		for _, c := range s.o.Daemon.Channels() {
			if c.Name == name {
				res.SlackChannel = c.SlackChannel
			}
		}
	}
	where := res.SlackChannel
	if where == "" {
		where = name
	}

	status := http.StatusOK
	err := errors.New("the daemon is not running")
	if s.o.Daemon != nil {
		ctx, cancel := context.WithTimeout(r.Context(), testTimeout)
		err = s.o.Daemon.SendTest(ctx, name)
		cancel()
	}
	switch {
	case err == nil:
		res.OK = true
		res.Message = fmt.Sprintf("Test message sent to %s (channel %s). Slack accepted it.", where, name)
		s.log.Info("test message sent", "channel", name)
	case errors.Is(err, ErrUnknownChannel):
		status = http.StatusNotFound
		res.Error = "unknown_channel"
		res.Message = fmt.Sprintf("There is no channel named %q in the config.", name)
	default:
		status = http.StatusBadGateway
		reason, hint := slack.Explain(err, res.SlackChannel, s.tokenOverride())
		res.Error = s.redact(reason, "")
		res.Hint = s.redact(hint, "")
		res.Message = fmt.Sprintf("The test message to %s failed: %s.", where, res.Error)
		s.log.Warn("test message failed", "channel", name, "reason", res.Error)
	}

	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(res)
		return
	}
	s.setFlash(w, flash{OK: res.OK, Text: res.Message, Hint: sentence(res.Hint)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// sameSiteForm checks that a state-changing POST came from the admin page
// itself (its CSRF token); otherwise it writes the refusal and returns false.
func (s *Server) sameSiteForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	err := s.checkCSRF(r)
	if err == nil {
		return true
	}
	if errors.Is(err, errCrossOrigin) {
		s.crossOriginRefused(w, r)
		return false
	}
	s.log.Warn("admin request refused: CSRF token", "remote", s.clientIP(r), "path", r.URL.Path, "err", err)
	s.message(w, http.StatusForbidden, "Refused",
		"The form was out of date or did not come from the admin page (auditfwd may have restarted). Reload the admin page and try again.")
	return false
}

// sentence capitalises advice such as "invite the bot to #security" and ends it with a period.
func sentence(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), ".")
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:] + "."
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}
