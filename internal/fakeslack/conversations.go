package fakeslack

import (
	"net/url"
	"strconv"
	"strings"
)

type channel struct {
	id, name string
	member   bool
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
