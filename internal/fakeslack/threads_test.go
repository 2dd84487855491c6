package fakeslack

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// rawCall posts a form and returns Slack's answer as a map.
func rawCall(t *testing.T, s *Server, method string, form url.Values) map[string]any {
	t.Helper()
	resp, err := http.PostForm(s.URL+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return m
}

func replyForm(channel, threadTS, text string) url.Values {
	v := post(channel, text, "")
	v.Set("thread_ts", threadTS)
	return v
}

func threadTS(a map[string]any) string {
	msg, _ := a["message"].(map[string]any)
	ts, _ := msg["thread_ts"].(string)
	return ts
}

func TestRepliesLandInTheParentsThread(t *testing.T) {
	s := start(t)
	parent := rawCall(t, s, "chat.postMessage", post("C0GENERAL1", "parent", ""))
	pts := parent["ts"].(string)
	if threadTS(parent) != "" {
		t.Fatal("a top-level message answered with thread_ts")
	}
	r1 := rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", pts, "one"))
	if threadTS(r1) != pts || r1["message"].(map[string]any)["parent_user_id"] != "U0BOT" {
		t.Fatalf("reply answer %v", r1)
	}
	// A reply's ts names its parent's thread.
	r2 := rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", r1["ts"].(string), "two"))
	if threadTS(r2) != pts {
		t.Fatalf("a reply to a reply went to %q, want the parent %q", threadTS(r2), pts)
	}
	v := replyForm("C0GENERAL1", pts, "loud")
	v.Set("reply_broadcast", "true")
	r3 := rawCall(t, s, "chat.postMessage", v)
	if r3["message"].(map[string]any)["subtype"] != "thread_broadcast" {
		t.Fatalf("broadcast answer %v", r3)
	}
	if n := len(s.Replies("C0GENERAL1", pts)); n != 3 {
		t.Fatalf("%d replies in the thread, want 3", n)
	}
	if ms := s.ChannelMessages("C0GENERAL1"); len(ms) != 2 || ms[0].TS != pts || !ms[1].Broadcast {
		t.Fatalf("channel shows %+v", ms)
	}
	if p, _ := s.Message("C0GENERAL1", pts); p.Replies != 3 {
		t.Fatalf("parent replies %d", p.Replies)
	}
	// A thread_ts naming nothing: ok, but nobody sees it.
	orphan := rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", "1.000001", "lost"))
	if orphan["ok"] != true || threadTS(orphan) != "1.000001" {
		t.Fatalf("orphan answer %v", orphan)
	}
	if m, _ := s.Message("C0GENERAL1", orphan["ts"].(string)); !m.Orphan {
		t.Fatal("orphan not marked")
	}
	reqs := s.ThreadRequests("C0GENERAL1", pts)
	if len(reqs) != 4 || reqs[0].Params.Get("text") != "parent" {
		t.Fatalf("thread requests %+v", reqs)
	}
}

func TestDeletedParent(t *testing.T) {
	s := start(t)
	lone := rawCall(t, s, "chat.postMessage", post("C0GENERAL1", "lone", ""))["ts"].(string)
	busy := rawCall(t, s, "chat.postMessage", post("C0GENERAL1", "busy", ""))["ts"].(string)
	rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", busy, "first reply"))
	if !s.DeleteMessage("C0GENERAL1", lone) || !s.DeleteMessage("C0GENERAL1", busy) {
		t.Fatal("delete failed")
	}
	// Without replies the parent is gone: the reply lands in the channel.
	a := rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", lone, "to the gone"))
	if a["ok"] != true || threadTS(a) != "" {
		t.Fatalf("reply to a gone parent: %v", a)
	}
	// With replies the thread goes on under "This message was deleted."
	if b := rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", busy, "goes on")); threadTS(b) != busy {
		t.Fatalf("reply to a deleted parent with replies: %v", b)
	}
	for _, ts := range []string{lone, busy} {
		u := rawCall(t, s, "chat.update", url.Values{"token": {"xoxb-good"}, "channel": {"C0GENERAL1"}, "ts": {ts}, "text": {"x"}})
		if u["error"] != "message_not_found" {
			t.Fatalf("update of a deleted message: %v", u)
		}
	}
}

func TestUpdate(t *testing.T) {
	s := start(t)
	ts := rawCall(t, s, "chat.postMessage", post("C0GENERAL1", "before", `[{"type":"section","text":{"type":"mrkdwn","text":"before"}}]`))["ts"].(string)
	upd := func(kv ...string) map[string]any {
		v := url.Values{"token": {"xoxb-good"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return rawCall(t, s, "chat.update", v)
	}
	for _, c := range []struct {
		kv   []string
		want string
	}{
		{[]string{"channel", "#general", "ts", ts, "text", "x"}, "channel_not_found"},
		{[]string{"channel", "general", "ts", ts, "text", "x"}, "channel_not_found"},
		{[]string{"channel", "C0GENERAL1", "text", "x"}, "invalid_arguments"},
		{[]string{"ts", ts, "text", "x"}, "invalid_arguments"},
		{[]string{"channel", "C0GENERAL1", "ts", "9.000009", "text", "x"}, "message_not_found"},
		{[]string{"channel", "C0GENERAL1", "ts", ts, "text", strings.Repeat("a", 4001)}, "msg_too_long"},
		{[]string{"channel", "C0GENERAL1", "ts", ts, "text", "x", "blocks", `[{"type":"section"}]`}, "invalid_blocks"},
	} {
		if a := upd(c.kv...); a["error"] != c.want {
			t.Errorf("%v: %v, want %s", c.kv, a, c.want)
		}
	}
	s.FailNext("chat.update", "edit_window_closed", 1)
	if a := upd("channel", "C0GENERAL1", "ts", ts, "text", "x"); a["error"] != "edit_window_closed" {
		t.Fatalf("scripted: %v", a)
	}
	a := upd("channel", "C0GENERAL1", "ts", ts, "text", "after", "blocks", `[{"type":"section","text":{"type":"mrkdwn","text":"after"}}]`)
	if a["ok"] != true || a["ts"] != ts || a["channel"] != "C0GENERAL1" {
		t.Fatalf("update: %v", a)
	}
	m, _ := s.Message("C0GENERAL1", ts)
	if m.Text != "after" || !strings.Contains(m.AllText(), "after") || strings.Contains(m.AllText(), "before") || m.Edits != 1 {
		t.Fatalf("after the update: %+v", m)
	}
	// Text alone keeps the blocks.
	upd("channel", "C0GENERAL1", "ts", ts, "text", "text only")
	if m, _ := s.Message("C0GENERAL1", ts); m.Text != "text only" || m.Blocks == nil || s.Updates("C0GENERAL1") != 2 {
		t.Fatalf("after a text update: %+v", m)
	}
	s.SetMode(ModeError500)
	if resp, _ := http.PostForm(s.URL+"chat.update", url.Values{"token": {"xoxb-good"}, "channel": {"C0GENERAL1"}, "ts": {ts}, "text": {"x"}}); resp.StatusCode != 500 {
		t.Fatalf("outage: chat.update answered %d", resp.StatusCode)
	}
}

func TestEditsAreRecordedAndPingsRead(t *testing.T) {
	s := start(t)
	parent := rawCall(t, s, "chat.postMessage", post("C0GENERAL1", "<!here> <!subteam^S0123|ops> parent", `[{"type":"section","text":{"type":"mrkdwn","text":"<@U0ALICE> look"}}]`))
	pts := parent["ts"].(string)
	rawCall(t, s, "chat.postMessage", replyForm("C0GENERAL1", pts, "a reply for &lt;!channel&gt;"))
	edit := url.Values{"token": {"xoxb-good"}, "channel": {"C0GENERAL1"}, "ts": {pts}, "text": {"edited <!channel>"}}
	if a := rawCall(t, s, "chat.update", edit); a["ok"] != true {
		t.Fatalf("edit answer %v", a)
	}
	posts, edits := s.Posts(), s.Edits()
	if got := strings.Join(posts[0].Pings(), " "); got != "<!here> <!subteam^S0123|ops> <@U0ALICE>" {
		t.Errorf("parent pings %q", got)
	}
	if got := posts[1].Pings(); len(got) != 0 || posts[1].ThreadTS != pts {
		t.Errorf("an escaped mention read as a ping: %v (thread %q)", got, posts[1].ThreadTS)
	}
	if len(edits) != 1 || edits[0].TS != pts || edits[0].ThreadTS != "" || edits[0].Text != "edited <!channel>" || len(edits[0].Pings()) != 1 {
		t.Fatalf("edits %+v", edits)
	}
}
