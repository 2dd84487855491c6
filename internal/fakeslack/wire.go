package fakeslack

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

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
	sent := url.Values{}
	for k, vs := range vals {
		if k != "token" {
			sent[k] = vs
		}
	}
	s.attempts = append(s.attempts, Attempt{Method: method, Channel: vals.Get("channel"), Time: time.Now(), Params: sent})
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
