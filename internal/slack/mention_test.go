package slack

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/event"
)

func TestMentionLine(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"S0123ABCD"}, "<!subteam^S0123ABCD>"},
		{[]string{"U024BE7LH", "W0ABC", "here", "channel"}, "<@U024BE7LH> <@W0ABC> <!here> <!channel>"},
		{[]string{"here", "S1", "here", "S1"}, "<!here> <!subteam^S1>"},
		// Never from the config, but never a ping either.
		{[]string{"<!everyone>", "everyone", "@here", "s1", "B01", "S", "U1>", "S1|x", ""}, ""},
	} {
		if got := mentionLine(tt.in); got != tt.want {
			t.Errorf("mentionLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// mentionToken finds what Slack would turn into a ping.
var mentionToken = regexp.MustCompile(`<(?:!subteam\^[A-Z0-9]+|@[A-Z0-9]+|!here|!channel|!everyone)(?:\|[^>]*)?>`)

// pings returns the mention tokens in every text of m.
func pings(t *testing.T, m Message) (text, blocks []string) {
	t.Helper()
	return mentionToken.FindAllString(m.Text, -1), mentionToken.FindAllString(strings.Join(texts(t, m), "\n"), -1)
}

func TestPackMentionedSingle(t *testing.T) {
	e := ev("login.oauth_failed", "user_name", evil, "status", "failed", "resource", "<@U999> <!subteam^S999>")
	for _, alert := range []bool{false, true} {
		m, n := PackMentioned([]event.Event{e}, alert, [][]string{{"S0123ABCD", "here", "U1"}})
		if n != 1 {
			t.Fatalf("n = %d", n)
		}
		checkLimits(t, m)
		const line = "<!subteam^S0123ABCD> <!here> <@U1>"
		if !strings.HasPrefix(m.Text, line+"\n") {
			t.Errorf("text does not start with the mention line: %q", m.Text)
		}
		if got := texts(t, m)[0]; got != line {
			t.Errorf("first block %q", got)
		}
		text, blocks := pings(t, m)
		want := []string{"<!subteam^S0123ABCD>", "<!here>", "<@U1>"}
		if !slices.Equal(text, want) || !slices.Equal(blocks, want) {
			t.Errorf("pings: text %q, blocks %q; want %q once each", text, blocks, want)
		}
		// Everything but the mention line is escaped event text.
		assertEscaped(t, "text", strings.TrimPrefix(m.Text, line))
		for _, s := range texts(t, m)[1:] {
			assertEscaped(t, "block", s)
		}
	}
	// No mentions: exactly Pack's message.
	a, _ := PackMentioned([]event.Event{e}, false, [][]string{nil})
	b, _ := Pack([]event.Event{e}, false)
	if a.Text != b.Text || len(a.Blocks) != len(b.Blocks) {
		t.Error("an empty mention list changed the message")
	}
	if text, blocks := pings(t, b); len(text)+len(blocks) > 0 {
		t.Errorf("event values ping: %q %q", text, blocks)
	}
}

func TestPackMentionedDigest(t *testing.T) {
	var events []event.Event
	var mentions [][]string
	for i := range 60 {
		events = append(events, ev("login.oauth_failed", "status", "failed", "user_name", "<!here>", "marker", fmt.Sprintf("M%03dM", i)))
		switch i % 3 {
		case 0:
			mentions = append(mentions, []string{"S1", "here"})
		case 1:
			mentions = append(mentions, []string{"here"})
		default:
			mentions = append(mentions, nil)
		}
	}
	mentions[59] = []string{"U9"} // only in the last event, which does not fit the first message
	m, n := PackMentioned(events, false, mentions)
	if n < 2 || n >= 59 {
		t.Fatalf("n = %d", n)
	}
	checkLimits(t, m)
	text, blocks := pings(t, m)
	want := []string{"<!subteam^S1>", "<!here>"}
	if !slices.Equal(text, want) || !slices.Equal(blocks, want) {
		t.Errorf("digest pings: text %q, blocks %q; want %q once", text, blocks, want)
	}
	if got := texts(t, m)[1]; got != fmt.Sprintf("*%d audit events*", n) {
		t.Errorf("heading %q", got)
	}
	// Events without mentions: no line.
	m, _ = PackMentioned(events[2:3], false, mentions[2:3])
	if text, blocks := pings(t, m); len(text)+len(blocks) > 0 {
		t.Errorf("pings without mentions: %q %q", text, blocks)
	}
	// Each message carries the mentions of its own events: U9 only the last.
	for rest := n; rest < len(events); {
		m, k := PackMentioned(events[rest:], false, mentions[rest:])
		text, _ := pings(t, m)
		if last := rest+k == len(events); slices.Contains(text, "<@U9>") != last {
			t.Errorf("message of events %d..%d pings %q", rest, rest+k-1, text)
		}
		rest += k
	}
}

func TestPackMentionedLimits(t *testing.T) {
	kv := make([]string, 0, 2000)
	for i := range 1000 {
		kv = append(kv, fmt.Sprintf("k%04d", i), "v")
	}
	many := []string{"here", "channel"}
	for i := range 40 {
		many = append(many, fmt.Sprintf("S%08d", i))
	}
	m, _ := PackMentioned([]event.Event{ev("x.y", kv...)}, true, [][]string{many})
	checkLimits(t, m)
	if len(m.Blocks) != maxBlocks {
		t.Errorf("%d blocks", len(m.Blocks))
	}
	if text, _ := pings(t, m); len(text) != len(many) {
		t.Errorf("%d pings in the text, want %d", len(text), len(many))
	}
	if tm := TextOnly(m); !strings.HasPrefix(tm.Text, "<!here> <!channel>") {
		t.Errorf("text-only fallback lost the mentions: %q", tm.Text[:40])
	}
}
