package fakeslack

import (
	"strings"
	"time"
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
