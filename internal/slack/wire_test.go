package slack

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/event"
)

// The hand-written body is what encoding/json writes for the same call:
// the blocks auditfwd builds, blocks of other kinds, and text that needs
// every escape (quotes, control characters, HTML, invalid UTF-8, U+2028).
func TestAppendCallIsWhatEncodingJSONWrites(t *testing.T) {
	odd := "a\"b\\c\n\t\x01<&>\u2028\u2029 é 🚀 \xff\xfe end"
	single, _ := Pack([]event.Event{ev("login.oauth_failed", "status", "failed", "user_email", "x@example.com", "note", odd)}, false)
	var digest []event.Event
	for range 30 {
		digest = append(digest, ev("user.update", "status", "success", "field", odd))
	}
	packed, _ := Pack(digest, false)
	emoji := true
	other := Message{Text: odd, Blocks: []slackapi.Block{
		slackapi.NewDividerBlock(),
		slackapi.NewSectionBlock(nil, []*slackapi.TextBlockObject{mrkdwn("a field")}, nil),
		slackapi.NewContextBlock("ctx", mrkdwn(odd)),
		slackapi.NewSectionBlock(&slackapi.TextBlockObject{Type: "plain_text", Text: odd, Emoji: &emoji}, nil, nil),
	}}
	cases := []struct {
		name string
		c    call
		m    Message
	}{
		{"post", call{channel: "C0SECURITY1", noUnfurl: true}, single},
		{"digest in a thread", call{channel: "C0SECURITY1", threadTS: "1.000001", noUnfurl: true}, packed},
		{"update", call{channel: "C0SECURITY1", ts: "1.000002"}, other},
		{"text only", call{channel: odd}, Message{Text: odd}},
	}
	for _, tc := range cases {
		got, err := appendCall(nil, tc.c, tc.m)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := map[string]any{"channel": tc.c.channel, "text": tc.m.Text}
		if tc.c.threadTS != "" {
			want["thread_ts"] = tc.c.threadTS
		}
		if tc.c.ts != "" {
			want["ts"] = tc.c.ts
		}
		if tc.c.noUnfurl {
			want["unfurl_links"], want["unfurl_media"] = false, false
		}
		if len(tc.m.Blocks) > 0 {
			want["blocks"] = tc.m.Blocks
		}
		wantJSON, _ := json.Marshal(want)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("%s: the body is not JSON: %v\n%s", tc.name, err, got)
		}
		json.Unmarshal(wantJSON, &w)
		gs, _ := json.Marshal(g)
		ws, _ := json.Marshal(w)
		if string(gs) != string(ws) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, gs, ws)
		}
		// String by string, the escapes are encoding/json's own.
		for _, s := range []string{tc.m.Text, tc.c.channel} {
			j, _ := json.Marshal(s)
			if !strings.Contains(string(got), string(j)) {
				t.Errorf("%s: %q not written as %s", tc.name, s, j)
			}
		}
	}
}

func TestParseAnswer(t *testing.T) {
	cases := []struct {
		body string
		want answer
		bad  bool
	}{
		{`{"ok":true,"channel":"C1","ts":"1.5","message":{"text":"x","blocks":[{"type":"section"}],"thread_ts":"1.2"}}`, answer{ok: true, channel: "C1", ts: "1.5", thr: "1.2"}, false},
		{`{"ok":false,"error":"channel_not_found"}`, answer{err: "channel_not_found"}, false},
		{`{"message":{"thread_ts":"9"},"ts":"1\u002e5","ok":true}`, answer{ok: true, ts: "1.5", thr: "9"}, false},
		{`{"ok":true,"warning":"x"} trailing`, answer{}, true},
		{`<html>bad gateway</html>`, answer{}, true},
	}
	for _, tc := range cases {
		got, err := parseAnswer([]byte(tc.body))
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseAnswer(%s) = %+v, %v; want %+v (error %v)", tc.body, got, err, tc.want, tc.bad)
		}
	}
}

// digestAnswer is Slack's answer to a digest of 30 events: the message
// echoed whole, as Slack (and the fake) answer.
func digestAnswer(tb testing.TB) []byte {
	var events []event.Event
	for i := range 30 {
		events = append(events, ev("release.promote", "action_type", "convox", "command", "convox releases promote \"x\"",
			"ip_address", "10.0.0.1", "resource", fmt.Sprint("app", i), "resource_type", "app", "status", "success",
			"user_agent", "Mozilla/5.0 (X11; Linux x86_64) <&>", "user_email", "dev@example.com", "user_name", "Dév"))
	}
	m, _ := Pack(events, false)
	msg, err := appendCall(nil, call{channel: "C0SECURITY1", noUnfurl: true}, m)
	if err != nil {
		tb.Fatal(err)
	}
	return fmt.Appendf(nil, `{"ok":true,"channel":"C0SECURITY1","ts":"1712345678.000100","message":%s}`, msg)
}

func BenchmarkParseAnswer(b *testing.B) {
	body := digestAnswer(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if a, err := parseAnswer(body); err != nil || !a.ok {
			b.Fatal(a, err)
		}
	}
}
