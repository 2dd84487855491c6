package delivery

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/testenv"
	"github.com/auditfwd/auditfwd/internal/token"
)

// Mentions travel with each event: through the spool into one digest that
// pings their union once, and into the dead letters for redeliver.
func TestMentionsTravelWithTheEvents(t *testing.T) {
	f := newFixture(t, false)
	for i, m := range [][]string{{"S0ONCALL"}, nil, {"here", "S0ONCALL"}} {
		f.pos += 100
		line := fmt.Sprintf(`{"action":"login.oauth_failed","resource":"evt-%03d","status":"failed","user_name":"<!channel>"}`, i)
		d := rules.Destination{Channel: "security", SlackChannel: "#security", Mention: m}
		if _, err := f.svc.Enqueue(d, []byte(line), logpos.Position{Gen: 1, Offset: f.pos}); err != nil {
			t.Fatal(err)
		}
	}
	f.svc.Publish()
	if err := f.svc.Sync(); err != nil {
		t.Fatal(err)
	}
	f.conn.Set(token.Token{AccessToken: tok})
	p := f.waitPosts(1)[0]
	if !strings.Contains(p.AllText(), "evt-000") || !strings.Contains(p.AllText(), "evt-002") {
		t.Fatalf("expected one digest of the three events: %s", p.AllText())
	}
	if !strings.HasPrefix(p.Text, "<!subteam^S0ONCALL> <!here>\n") || strings.Count(p.Text, "<!subteam^S0ONCALL>") != 1 ||
		strings.Count(p.Text, "<!here>") != 1 || strings.Contains(p.Text, "<!channel>") {
		t.Errorf("digest text: %q", p.Text)
	}

	// Rejected for good: the dead letters keep each event's mentions.
	f.fs.FailNext("chat.postMessage", "channel_not_found", 1)
	f.enqueue(7)
	path := f.svc.opts.State.DeadLetters()
	testenv.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		dls, err := readDeadLetters(path)
		return err == nil && len(dls.entries) == 1
	})
	f.fs.FailNext("chat.postMessage", "channel_not_found", 1)
	f.svc.Enqueue(rules.Destination{Channel: "security", SlackChannel: "#security", Mention: []string{"U0BOB"}},
		[]byte(`{"action":"x","resource":"evt-008"}`), logpos.Position{Gen: 1, Offset: 10_000})
	f.svc.Publish()
	f.svc.Sync()
	testenv.Eventually(t, 10*time.Second, "two dead letters", func() bool {
		dls, err := readDeadLetters(path)
		return err == nil && len(dls.entries) == 2
	})
	f2, err := readDeadLetters(path)
	if err != nil {
		t.Fatal(err)
	}
	dls := f2.entries
	if dls[0].Mention != nil || !slices.Equal(dls[1].Mention, []string{"U0BOB"}) {
		t.Errorf("dead letter mentions %q, %q", dls[0].Mention, dls[1].Mention)
	}
}
