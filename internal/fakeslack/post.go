package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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

// scriptedLocked is the answer the scripted Mode gives a message call
// (chat.postMessage, chat.update) before any other check, or the token's
// problem; answered is false when the call goes on.
func (s *Server) scriptedLocked(token string) (r reply, answered bool) {
	switch s.mode {
	case ModeError500:
		return reply{status: http.StatusInternalServerError, body: "<html><body>500 Internal Server Error</body></html>", code: "http_500"}, true
	case ModeRateLimitNoRetryAfter:
		r := errReply("ratelimited")
		r.status = http.StatusTooManyRequests
		return r, true
	}
	if _, code := s.authLocked(token); code != "" {
		return errReply(code), true
	}
	return reply{}, false
}

func (s *Server) postMessageLocked(v url.Values, token string) reply {
	if r, answered := s.scriptedLocked(token); answered {
		return r
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
