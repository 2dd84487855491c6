package fakeslack

import (
	"net/http"
	"net/url"
	"strings"
)

type tokenInfo struct {
	revoked                   bool
	teamID, teamName, botUser string
}

type oauthCode struct {
	token, teamID, teamName, botUser string
	used                             bool
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
