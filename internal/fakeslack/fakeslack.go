// Package fakeslack is a fake Slack Web API for tests and benchmarks. It
// speaks Slack's wire format (form-encoded or JSON requests, token as
// "Authorization: Bearer" or a "token" field, JSON answers, errors as HTTP
// 200 {"ok":false,"error":…}, HTTP 429 with Retry-After, 5xx) for
// chat.postMessage (threads included), chat.update, conversations.list,
// auth.test and oauth.v2.access, serves an OAuth authorize page like
// slack.com's, and records what it was sent so that tests can count
// messages and assert on timing. It knows nothing about auditfwd's routing
// or message layout. `go run ./cmd/fakeslack` starts one for people.
//
// It does not import "testing": other packages' tests and the benchmark
// command use it alike.
package fakeslack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Mode scripts how chat.postMessage and chat.update answer; the other methods always
// behave normally (so channel resolution and auth.test keep working during a
// scripted outage).
type Mode int

const (
	ModeOK                    Mode = iota // normal behaviour (default)
	ModeError500                          // HTTP 500 with an HTML body
	ModeHang                              // hold the request until the client gives up, the mode changes or Close
	ModeRateLimitNoRetryAfter             // HTTP 429 without Retry-After (free workspaces' message_limit_exceeded)
)

// Post is an accepted chat.postMessage call.
type Post struct {
	Channel string          // the channel ID (a "#name" request is mapped to its ID)
	Text    string          // the text field as sent
	Blocks  json.RawMessage // the blocks field as sent; nil when absent
	Time    time.Time
	Token   string
	Params  url.Values // every request parameter but the token (unfurl_links, unfurl_media, …)

	TS       string // the ts Slack gave it
	ThreadTS string // the thread Slack put it in (its parent's ts); "" in the channel
}

// AllText returns the text and every "text" string in the blocks, decoded
// from JSON, joined by newlines: search it for markers, and for mentions
// such as "<!channel>" that must never arrive unescaped.
func (p Post) AllText() string {
	var b strings.Builder
	b.WriteString(p.Text)
	if len(p.Blocks) > 0 {
		dec := json.NewDecoder(bytes.NewReader(p.Blocks))
		if tok, err := dec.Token(); err == nil {
			_ = collectText(dec, tok, &b)
		}
	}
	return b.String()
}

// collectText walks the JSON value that starts with tok and appends every
// string found under a "text" key.
func collectText(dec *json.Decoder, tok json.Token, b *strings.Builder) error {
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '[':
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return err
			}
			if err := collectText(dec, t, b); err != nil {
				return err
			}
		}
	case '{':
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			vt, err := dec.Token()
			if err != nil {
				return err
			}
			if s, ok := vt.(string); ok && kt == "text" {
				b.WriteString("\n")
				b.WriteString(s)
				continue
			}
			if err := collectText(dec, vt, b); err != nil {
				return err
			}
		}
	}
	_, err := dec.Token() // closing delimiter
	return err
}

// Attempt is one request of any kind, recorded when it arrives. Status is
// the HTTP status answered (0 while in progress, or when the client gave up
// first); Error is the Slack error code, if any ("client_gone" when the
// client gave up).
type Attempt struct {
	Method  string
	Channel string
	Time    time.Time
	Status  int
	Error   string
}

// Server is a running fake Slack.
type Server struct {
	URL string // base API URL with a trailing "/", e.g. http://127.0.0.1:PORT/api/

	srv      *http.Server
	served   chan struct{}
	closing  chan struct{}
	handlers sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every state change
	closed   bool
	tokens   map[string]*tokenInfo
	channels map[string]*channel
	order    []string // channel IDs in the order added
	rate     time.Duration
	lastPost map[string]time.Time
	mode     Mode
	failNext map[string][]string
	codes    map[string]*oauthCode

	clientID, clientSecret string
	checkClient            bool
	redirectURI            string
	checkRedirect          bool

	posts    []Post
	attempts []Attempt
	seq      int
	msgs     messages      // threads.go
	latency  time.Duration // threads.go: SetAnswerLatency
}

type tokenInfo struct {
	revoked                   bool
	teamID, teamName, botUser string
}

type channel struct {
	id, name string
	member   bool
}

type oauthCode struct {
	token, teamID, teamName, botUser string
	used                             bool
}

// Start starts a fake Slack on 127.0.0.1 with a random port.
func Start() (*Server, error) { return Listen("127.0.0.1:0") }

// Listen starts a fake Slack on addr (host:port).
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakeslack: %w", err)
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String() + "/api/",
		served:   make(chan struct{}),
		closing:  make(chan struct{}),
		changed:  make(chan struct{}),
		tokens:   map[string]*tokenInfo{},
		channels: map[string]*channel{},
		lastPost: map[string]time.Time{},
		failNext: map[string][]string{},
		codes:    map[string]*oauthCode{},
	}
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and waits for every request handler, hung ones
// included, to return.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()
	_ = s.srv.Close()
	<-s.served
	s.handlers.Wait()
}

// notifyLocked wakes everyone waiting for a change. Call with s.mu held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// AddToken makes token a valid bot token of the default workspace.
func (s *Server) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = &tokenInfo{teamID: "T0FAKE", teamName: "Fake Workspace", botUser: "U0BOT"}
}

// RevokeToken makes every later request with token fail with token_revoked.
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[token]; ok {
		t.revoked = true
	} else {
		s.tokens[token] = &tokenInfo{revoked: true}
	}
}

// AddChannel adds (or replaces) a public channel.
func (s *Server) AddChannel(id, name string, isMember bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.channels[id]; !ok {
		s.order = append(s.order, id)
	}
	s.channels[id] = &channel{id: id, name: strings.TrimPrefix(name, "#"), member: isMember}
}

// SetMember says whether the bot is in channel id.
func (s *Server) SetMember(id string, isMember bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.channels[id]; ok {
		c.member = isMember
	}
}

// SetRateLimit sets the minimum interval between accepted posts per
// channel; a post that comes sooner gets HTTP 429 with Retry-After (whole
// seconds, at least 1) and is not recorded. 0 means unlimited.
func (s *Server) SetRateLimit(perChannel time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = perChannel
}

// SetMode changes how chat.postMessage answers; requests held by ModeHang
// carry on under the new mode.
func (s *Server) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
	s.notifyLocked()
}

// FailNext makes the next n requests of method answer HTTP 200
// {"ok":false,"error":code} before any other check (e.g. "msg_blocks_too_long",
// "is_archived", "service_unavailable").
func (s *Server) FailNext(method, code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failNext[method] = append(s.failNext[method], code)
	}
}

// SetClientCredentials makes oauth.v2.access check client_id and client_secret.
func (s *Server) SetClientCredentials(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clientID, s.clientSecret, s.checkClient = id, secret, true
}

// SetRedirectURI makes oauth.v2.access check redirect_uri.
func (s *Server) SetRedirectURI(uri string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.redirectURI, s.checkRedirect = uri, true
}

// AddOAuthCode adds a single-use OAuth code that oauth.v2.access exchanges
// for token (which then becomes valid) in workspace teamID/teamName.
func (s *Server) AddOAuthCode(code, token, teamID, teamName, botUserID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = &oauthCode{token: token, teamID: teamID, teamName: teamName, botUser: botUserID}
}

// Posts returns the accepted chat.postMessage calls in order.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// Attempts returns every request of method ("" for all methods) in arrival order.
func (s *Server) Attempts(method string) []Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attemptsLocked(method)
}

func (s *Server) attemptsLocked(method string) []Attempt {
	var out []Attempt
	for _, a := range s.attempts {
		if method == "" || a.Method == method {
			out = append(out, a)
		}
	}
	return out
}

// WaitPosts blocks until at least n posts were accepted or ctx is done.
func (s *Server) WaitPosts(ctx context.Context, n int) ([]Post, error) {
	return s.WaitPostsFunc(ctx, func(p []Post) bool { return len(p) >= n })
}

// WaitPostsFunc blocks until ok accepts the posts so far or ctx is done; it
// returns the posts last seen.
func (s *Server) WaitPostsFunc(ctx context.Context, ok func([]Post) bool) ([]Post, error) {
	for {
		s.mu.Lock()
		posts := append([]Post(nil), s.posts...)
		ch := s.changed
		s.mu.Unlock()
		if ok(posts) {
			return posts, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return posts, ctx.Err()
		}
	}
}

// WaitAttempts blocks until at least n requests of method ("" for any) have
// arrived or ctx is done. With ModeHang it tells when a request is being held.
func (s *Server) WaitAttempts(ctx context.Context, method string, n int) ([]Attempt, error) {
	for {
		s.mu.Lock()
		as := s.attemptsLocked(method)
		ch := s.changed
		s.mu.Unlock()
		if len(as) >= n {
			return as, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return as, ctx.Err()
		}
	}
}

// reply is one answer: an HTTP status, headers and a JSON (or other) body.
type reply struct {
	status int
	header map[string]string
	body   any    // JSON-encoded when not a string
	code   string // Slack error code, for Attempts
}

func okReply(body map[string]any) reply {
	body["ok"] = true
	return reply{status: http.StatusOK, body: body}
}

func errReply(code string) reply {
	return reply{status: http.StatusOK, body: map[string]any{"ok": false, "error": code}, code: code}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || method == "" || strings.Contains(method, "/") {
		http.NotFound(w, r)
		return
	}
	vals, err := params(r)
	if err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	token := vals.Get("token")
	if h, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && h != "" {
		token = h
	}

	s.mu.Lock()
	idx := len(s.attempts)
	s.attempts = append(s.attempts, Attempt{Method: method, Channel: vals.Get("channel"), Time: time.Now()})
	s.notifyLocked()
	s.mu.Unlock()

	rep, gone := s.handle(r, method, vals, token)

	s.mu.Lock()
	if gone {
		s.attempts[idx].Error = "client_gone"
	} else {
		s.attempts[idx].Status = rep.status
		s.attempts[idx].Error = rep.code
	}
	s.notifyLocked()
	s.mu.Unlock()
	if gone {
		// Drop the connection without an answer, as a server that went away.
		panic(http.ErrAbortHandler)
	}
	s.slowAnswer(method)

	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	if str, ok := rep.body.(string); ok {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(rep.status)
		_, _ = io.WriteString(w, str)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(rep.status)
	_ = json.NewEncoder(w).Encode(rep.body)
}

// params reads form (urlencoded or multipart) or JSON parameters.
func params(r *http.Request) (url.Values, error) {
	r.Body = http.MaxBytesReader(nil, r.Body, 16<<20)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, err
		}
		v := r.URL.Query()
		for k, raw := range m {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				v.Set(k, s)
			} else {
				v.Set(k, string(raw))
			}
		}
		return v, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(16 << 20); err != nil {
			return nil, err
		}
		return r.Form, nil
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
		return r.Form, nil
	}
}

// handle answers one request; gone reports that the client gave up (or the
// server closed) before an answer was ready.
func (s *Server) handle(r *http.Request, method string, v url.Values, token string) (rep reply, gone bool) {
	if method == "chat.postMessage" || method == "chat.update" {
		if !s.waitHang(r.Context()) {
			return reply{}, true
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.failNext[method]; len(q) > 0 {
		s.failNext[method] = q[1:]
		return errReply(q[0]), false
	}
	switch method {
	case "chat.postMessage":
		return s.postMessageLocked(v, token), false
	case "chat.update":
		return s.updateLocked(v, token), false
	case "conversations.list":
		return s.listLocked(v, token), false
	case "auth.test":
		return s.authTestLocked(token), false
	case "oauth.v2.access":
		return s.oauthLocked(r, v), false
	}
	return errReply("unknown_method"), false
}

// waitHang holds the request while the mode is ModeHang; false means the
// client gave up or the server is closing.
func (s *Server) waitHang(ctx context.Context) bool {
	for {
		s.mu.Lock()
		m, ch := s.mode, s.changed
		s.mu.Unlock()
		if m != ModeHang {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-s.closing:
			return false
		}
	}
}

func (s *Server) authLocked(token string) (*tokenInfo, string) {
	if token == "" {
		return nil, "not_authed"
	}
	t, ok := s.tokens[token]
	switch {
	case !ok:
		return nil, "invalid_auth"
	case t.revoked:
		return nil, "token_revoked"
	}
	return t, ""
}

func (s *Server) postMessageLocked(v url.Values, token string) reply {
	switch s.mode {
	case ModeError500:
		return reply{status: http.StatusInternalServerError, body: "<html><body>500 Internal Server Error</body></html>", code: "http_500"}
	case ModeRateLimitNoRetryAfter:
		r := errReply("ratelimited")
		r.status = http.StatusTooManyRequests
		return r
	}
	if _, code := s.authLocked(token); code != "" {
		return errReply(code)
	}
	ch := s.lookupLocked(v.Get("channel"))
	if ch == nil {
		return errReply("channel_not_found")
	}
	if !ch.member {
		return errReply("not_in_channel")
	}
	text, blocks := v.Get("text"), v.Get("blocks")
	if _, code := checkPayload(text, blocks, 0, 40000); code != "" {
		return errReply(code)
	}
	now := time.Now()
	if s.rate > 0 {
		if last, ok := s.lastPost[ch.id]; ok && now.Sub(last) < s.rate {
			secs := int(math.Ceil((s.rate - now.Sub(last)).Seconds()))
			r := errReply("ratelimited")
			r.status = http.StatusTooManyRequests
			r.header = map[string]string{"Retry-After": strconv.Itoa(max(secs, 1))}
			return r
		}
	}
	s.lastPost[ch.id] = now
	s.seq++
	ps := url.Values{}
	for k, vs := range v {
		if k != "token" {
			ps[k] = append([]string(nil), vs...)
		}
	}
	p := Post{Channel: ch.id, Text: text, Time: now, Token: token, Params: ps}
	if blocks != "" {
		p.Blocks = json.RawMessage(blocks)
	}
	ts := fmt.Sprintf("%d.%06d", now.Unix(), s.seq%1000000)
	msg := s.storeLocked(&p, ts)
	s.posts = append(s.posts, p)
	return okReply(map[string]any{"channel": ch.id, "ts": ts, "message": msg})
}

// checkPayload answers as Slack does for a message's text and blocks:
// blocks replace the message's (nblocks is how many it then has; had, those
// it had before an edit), and text longer than maxRunes is too long
// (40,000 for chat.postMessage, 4,000 for chat.update).
func checkPayload(text, blocks string, had, maxRunes int) (nblocks int, code string) {
	nblocks = had
	if blocks != "" {
		if nblocks, code = validateBlocks(blocks); code != "" {
			return 0, code
		}
	}
	if text == "" && nblocks == 0 {
		return 0, "no_text"
	}
	if utf8.RuneCountInString(text) > maxRunes {
		return 0, "msg_too_long"
	}
	return nblocks, ""
}

func (s *Server) lookupLocked(c string) *channel {
	if c == "" {
		return nil
	}
	if name, ok := strings.CutPrefix(c, "#"); ok {
		for _, id := range s.order {
			if s.channels[id].name == name {
				return s.channels[id]
			}
		}
		return nil
	}
	return s.channels[c]
}

// validateBlocks checks blocks like Slack does, as far as auditfwd cares:
// a JSON array of at most 50 typed blocks, section text ≤ 3,000 characters,
// ≤ 10 fields of ≤ 2,000, context ≤ 10 elements, header ≤ 150.
func validateBlocks(raw string) (int, string) {
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	var blocks []struct {
		Type     string            `json:"type"`
		Text     *text             `json:"text"`
		Fields   []text            `json:"fields"`
		Elements []json.RawMessage `json:"elements"`
	}
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return 0, "invalid_blocks"
	}
	if len(blocks) > 50 {
		return 0, "invalid_blocks"
	}
	validText := func(t *text, max int) bool {
		return t != nil && (t.Type == "mrkdwn" || t.Type == "plain_text") &&
			t.Text != "" && utf8.RuneCountInString(t.Text) <= max
	}
	for _, b := range blocks {
		switch b.Type {
		case "":
			return 0, "invalid_blocks"
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				return 0, "invalid_blocks"
			}
			if b.Text != nil && !validText(b.Text, 3000) {
				return 0, "invalid_blocks"
			}
			if len(b.Fields) > 10 {
				return 0, "invalid_blocks"
			}
			for i := range b.Fields {
				if !validText(&b.Fields[i], 2000) {
					return 0, "invalid_blocks"
				}
			}
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || !validText(b.Text, 150) {
				return 0, "invalid_blocks"
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				return 0, "invalid_blocks"
			}
			for _, e := range b.Elements {
				var t text
				if err := json.Unmarshal(e, &t); err != nil {
					return 0, "invalid_blocks"
				}
				if (t.Type == "mrkdwn" || t.Type == "plain_text") && !validText(&t, 3000) {
					return 0, "invalid_blocks"
				}
			}
		}
	}
	return len(blocks), ""
}

func (s *Server) listLocked(v url.Values, token string) reply {
	if _, code := s.authLocked(token); code != "" {
		return errReply(code)
	}
	const perPage = 2
	start := 0
	if c := v.Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "page:"))
		if err != nil || n < 0 || n > len(s.order) {
			return errReply("invalid_cursor")
		}
		start = n
	}
	end := min(start+perPage, len(s.order))
	chans := make([]map[string]any, 0, end-start)
	for _, id := range s.order[start:end] {
		c := s.channels[id]
		chans = append(chans, map[string]any{
			"id": c.id, "name": c.name, "name_normalized": c.name,
			"is_channel": true, "is_private": false, "is_archived": false, "is_member": c.member,
		})
	}
	next := ""
	if end < len(s.order) {
		next = "page:" + strconv.Itoa(end)
	}
	return okReply(map[string]any{"channels": chans, "response_metadata": map[string]any{"next_cursor": next}})
}

func (s *Server) authTestLocked(token string) reply {
	t, code := s.authLocked(token)
	if code != "" {
		return errReply(code)
	}
	return okReply(map[string]any{
		"url": "https://fake.slack.com/", "team": t.teamName, "team_id": t.teamID,
		"user": "auditfwd", "user_id": t.botUser, "bot_id": "B" + strings.TrimPrefix(t.botUser, "U"),
	})
}

func (s *Server) oauthLocked(r *http.Request, v url.Values) reply {
	id, secret := v.Get("client_id"), v.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if s.checkClient {
		if id != s.clientID {
			return errReply("invalid_client_id")
		}
		if secret != s.clientSecret {
			return errReply("bad_client_secret")
		}
	}
	c, ok := s.codes[v.Get("code")]
	switch {
	case !ok:
		return errReply("invalid_code")
	case c.used:
		return errReply("code_already_used")
	case s.checkRedirect && v.Get("redirect_uri") != s.redirectURI:
		return errReply("bad_redirect_uri")
	}
	c.used = true
	s.tokens[c.token] = &tokenInfo{teamID: c.teamID, teamName: c.teamName, botUser: c.botUser}
	return okReply(map[string]any{
		"access_token": c.token, "token_type": "bot", "scope": "channels:read,chat:write",
		"bot_user_id": c.botUser, "app_id": "A0FAKEAPP",
		"team":       map[string]any{"id": c.teamID, "name": c.teamName},
		"enterprise": nil, "authed_user": map[string]any{"id": "U0INSTALLER"},
		"is_enterprise_install": false,
	})
}
