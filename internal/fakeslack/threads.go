package fakeslack

import (
	"encoding/json"
	"net/url"
	"time"
)

// Threads and edits, as Slack does them (chat.postMessage with thread_ts and
// reply_broadcast, chat.update): every accepted message is kept per channel
// and per thread so that tests can read a thread, edit it, and delete a
// message to see what auditfwd does about a parent that is gone.

// Message is a message as the fake Slack holds it after every edit.
type Message struct {
	Channel   string
	TS        string
	ThreadTS  string // the parent's ts for a reply; "" for a message in the channel
	Text      string
	Blocks    json.RawMessage
	Broadcast bool // a reply also shown in the channel (reply_broadcast)
	Orphan    bool // a reply whose thread_ts named no message: answered ok, seen by nobody
	Deleted   bool
	Replies   int // replies in its thread (a parent)
	Edits     int // accepted chat.update calls
}

// AllText is Post.AllText for the message as it now reads.
func (m Message) AllText() string { return Post{Text: m.Text, Blocks: m.Blocks}.AllText() }

// Request is one accepted request as the fake received it (the token left
// out): what a captured thread is made of.
type Request struct {
	Method string
	Time   time.Time
	Params url.Values
}

// MarshalJSON shows the request as Slack received it, the blocks as JSON.
func (r Request) MarshalJSON() ([]byte, error) {
	params := map[string]any{}
	for k, vs := range r.Params {
		if len(vs) == 0 {
			continue
		}
		params[k] = vs[0]
		if k == "blocks" && json.Valid([]byte(vs[0])) {
			params[k] = json.RawMessage(vs[0])
		}
	}
	return json.Marshal(struct {
		Method string         `json:"method"`
		Time   time.Time      `json:"time"`
		Params map[string]any `json:"params"`
	}{r.Method, r.Time, params})
}

// messages is the fake's message store.
type messages struct {
	byID     map[string]*Message  // channel + "/" + ts
	requests map[string][]Request // channel + "/" + parent ts: the posts and edits of a thread
	edits    []Post               // accepted chat.update calls, in order
}

func msgID(channel, ts string) string { return channel + "/" + ts }

func (ms *messages) get(channel, ts string) *Message {
	return ms.byID[msgID(channel, ts)]
}

// storeLocked keeps an accepted post and returns the message object of
// Slack's answer. A reply names its parent with thread_ts (a reply's ts
// counts as its parent's); a parent that was deleted without replies is
// gone, and the reply is put in the channel instead, answered without
// thread_ts.
func (s *Server) storeLocked(p *Post, ts string) map[string]any {
	if s.msgs.byID == nil {
		s.msgs.byID, s.msgs.requests = map[string]*Message{}, map[string][]Request{}
	}
	m := &Message{Channel: p.Channel, TS: ts, Text: p.Text, Blocks: p.Blocks}
	if tts := p.Params.Get("thread_ts"); tts != "" {
		parent := s.msgs.get(p.Channel, tts)
		if parent != nil && parent.ThreadTS != "" {
			parent = s.msgs.get(p.Channel, parent.ThreadTS)
		}
		switch {
		case parent == nil:
			m.ThreadTS, m.Orphan = tts, true
		case parent.Deleted && parent.Replies == 0:
			// Gone: the reply lands in the channel.
		default:
			m.ThreadTS = parent.TS
			parent.Replies++
			m.Broadcast = p.Params.Get("reply_broadcast") == "true"
		}
	}
	p.TS, p.ThreadTS = ts, m.ThreadTS
	s.msgs.byID[msgID(m.Channel, ts)] = m
	root := cmpOr(m.ThreadTS, ts)
	s.msgs.requests[msgID(m.Channel, root)] = append(s.msgs.requests[msgID(m.Channel, root)],
		Request{Method: "chat.postMessage", Time: p.Time, Params: p.Params})

	msg := map[string]any{"type": "message", "text": m.Text, "ts": ts, "user": "U0BOT", "bot_id": "B0BOT"}
	if m.Blocks != nil {
		msg["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		msg["thread_ts"], msg["parent_user_id"] = m.ThreadTS, "U0BOT"
	}
	if m.Broadcast {
		msg["subtype"] = "thread_broadcast"
	}
	return msg
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// updateLocked answers chat.update: the channel must be an ID (a name gets
// channel_not_found) and ts a message of this app that still exists; the
// text and blocks sent replace the message's (blocks left out are kept).
func (s *Server) updateLocked(v url.Values, token string) reply {
	if r, answered := s.scriptedLocked(token); answered {
		return r
	}
	channel, ts := v.Get("channel"), v.Get("ts")
	if channel == "" || ts == "" {
		return errReply("invalid_arguments")
	}
	ch := s.channels[channel] // IDs only: chat.update takes no names
	if ch == nil {
		return errReply("channel_not_found")
	}
	if !ch.member {
		return errReply("not_in_channel")
	}
	m := s.msgs.get(channel, ts)
	if m == nil || m.Deleted {
		return errReply("message_not_found")
	}
	text, blocks := v.Get("text"), v.Get("blocks")
	nblocks, code := checkPayload(text, blocks, len(m.Blocks), 4000)
	if code != "" {
		return errReply(code)
	}
	m.Text = text
	if blocks != "" {
		m.Blocks = json.RawMessage(blocks)
		if nblocks == 0 {
			m.Blocks = nil
		}
	}
	m.Edits++
	ps := url.Values{}
	for k, vs := range v {
		if k != "token" {
			ps[k] = append([]string(nil), vs...)
		}
	}
	root := cmpOr(m.ThreadTS, ts)
	now := time.Now()
	s.msgs.requests[msgID(channel, root)] = append(s.msgs.requests[msgID(channel, root)],
		Request{Method: "chat.update", Time: now, Params: ps})
	edit := Post{Channel: channel, Text: text, Time: now, Token: token, Params: ps, TS: ts, ThreadTS: m.ThreadTS}
	if blocks != "" {
		edit.Blocks = json.RawMessage(blocks)
	}
	s.msgs.edits = append(s.msgs.edits, edit)
	msg := map[string]any{"type": "message", "text": m.Text, "user": "U0BOT", "bot_id": "B0BOT", "edited": map[string]any{"user": "U0BOT", "ts": ts}}
	if m.Blocks != nil {
		msg["blocks"] = m.Blocks
	}
	return okReply(map[string]any{"channel": channel, "ts": ts, "text": m.Text, "message": msg})
}

// DeleteMessage deletes a message as a person can in Slack. A parent with
// replies stays as "This message was deleted." and its thread goes on; one
// without replies is gone, and a reply to it lands in the channel. Edits
// of either answer message_not_found. It reports whether ts was there.
func (s *Server) DeleteMessage(channelID, ts string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs.get(channelID, ts)
	if m == nil || m.Deleted {
		return false
	}
	m.Deleted = true
	s.notifyLocked()
	return true
}

// Message returns the message ts of a channel as it now reads.
func (s *Server) Message(channelID, ts string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.msgs.get(channelID, ts)
	if m == nil {
		return Message{}, false
	}
	return *m, true
}

// ChannelMessages returns the messages shown in a channel (not the replies,
// but broadcast ones), in the order posted, deleted ones included.
func (s *Server) ChannelMessages(channelID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, p := range s.posts {
		if p.Channel != channelID {
			continue
		}
		if m := s.msgs.get(channelID, p.TS); m != nil && (m.ThreadTS == "" || m.Broadcast) {
			out = append(out, *m)
		}
	}
	return out
}

// Replies returns the replies in the thread of parentTS, in order.
func (s *Server) Replies(channelID, parentTS string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, p := range s.posts {
		if p.Channel == channelID && p.ThreadTS == parentTS && p.TS != parentTS {
			if m := s.msgs.get(channelID, p.TS); m != nil {
				out = append(out, *m)
			}
		}
	}
	return out
}

// ThreadRequests returns every accepted chat.postMessage and chat.update of
// the thread of parentTS (the parent, the replies, the edits) as received,
// in arrival order: a thread captured for review.
func (s *Server) ThreadRequests(channelID, parentTS string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.msgs.requests[msgID(channelID, parentTS)]...)
}

// Edits returns the accepted chat.update calls in order, each as a Post
// of the text and blocks sent: TS is the edited message's ts, ThreadTS its
// thread's (a reply's parent), "" for a message in the channel.
func (s *Server) Edits() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.msgs.edits...)
}

// Accepted returns the accepted chat.postMessage calls (as Posts) and
// chat.update calls (as Edits does) taken at one instant, so that a reader
// can interleave them by Time without missing one.
func (s *Server) Accepted() (posts, edits []Post) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...), append([]Post(nil), s.msgs.edits...)
}

// Updates counts the accepted chat.update calls of a channel.
func (s *Server) Updates(channelID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs.byID {
		if m.Channel == channelID {
			n += m.Edits
		}
	}
	return n
}

// SetAnswerLatency makes chat.postMessage and chat.update answer d after
// they took effect, as a slow Slack does: a client that dies meanwhile has
// posted (or edited) without knowing it.
func (s *Server) SetAnswerLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *Server) slowAnswer(method string) {
	s.mu.Lock()
	d := s.latency
	s.mu.Unlock()
	if d <= 0 || method != "chat.postMessage" && method != "chat.update" {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closing:
	}
}
