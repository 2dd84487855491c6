package delivery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// The senders and the dry run carry out the same threads.Decide: fed the
// same events one at a time, the dry run prints exactly what Slack
// receives (each message's kind and text, in order).
func TestDeliveryAndDryRunAgree(t *testing.T) {
	approval := rules.Destination{Channel: "security", SlackChannel: "#security", Mention: []string{"here", "S0APPROVERS"}, Thread: threads.Spec{Approval: true}.String()}
	flood := rules.Destination{Channel: "security", SlackChannel: "#security", Mention: []string{"U0ONCALL"}, Thread: byIP.Thread}
	req := func(verb, status, who, details string) string {
		return fmt.Sprintf(`{"action":"deploy_approval_request.%s","details":%q,"resource":"77","resource_type":"deploy_approval_request","status":%q,"ts":"2026-03-20T01:00:00Z","user_email":%q}`,
			verb, details, status, who)
	}
	login := func(ip, ts string) string {
		return fmt.Sprintf(`{"action":"login.oauth_failed","ip_address":%q,"status":"failed","ts":%q}`, ip, ts)
	}
	steps := []struct {
		d    rules.Destination
		line string
	}{
		{approval, req("create", "success", "mallory@example.com", `{"git_branch":"feature/exfil","git_commit_hash":"deadbee","message":"Add exporter"}`)},
		{flood, login("203.0.113.9", "2026-03-20T01:00:00Z")},
		{flood, login("203.0.113.9", "2026-03-20T01:10:00Z")},
		{approval, req("approve", "denied", "mallory@example.com", `{"git_branch":"main","message":"Routine dependency bump"}`)},
		{approval, req("extend", "success", "mallory@example.com", `{"expires_at":"2026-03-20T05:00:00Z"}`)},
		{flood, login("198.51.100.7", "2026-03-20T01:20:00Z")},
		{approval, req("approve", "success", "alice@example.com", `{"expires_at":"2026-03-20T02:00:00Z"}`)},
		{flood, login("203.0.113.9", "2026-03-20T03:30:00Z")}, // past the hour's window: a new thread
		{approval, req("extend", "success", "carol@example.com", `{"expires_at":"2026-03-20T04:00:00Z"}`)},
	}

	f := newFixture(t, true)
	var dry bytes.Buffer
	p := NewPrinter(&dry, nil)
	var slackSaw []string
	for i, s := range steps {
		posts, edits := len(f.fs.Posts()), len(f.fs.Edits())
		f.enqueueLines(s.d, s.line)
		got := f.waitPosts(posts + 1)
		for _, e := range f.fs.Edits()[edits:] {
			slackSaw = append(slackSaw, "edit: "+e.Text)
		}
		kind := "parent"
		if got[posts].ThreadTS != "" {
			kind = "reply"
		}
		slackSaw = append(slackSaw, kind+": "+got[posts].Text)
		if _, err := p.Enqueue(s.d, []byte(s.line), logpos.Position{Gen: 1, Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	p.Sync()
	var dryRunSaid []string
	for _, line := range strings.Split(strings.TrimSpace(dry.String()), "\n") {
		var m struct {
			Thread  string `json:"thread"`
			Message struct {
				Text string `json:"text"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		dryRunSaid = append(dryRunSaid, m.Thread+": "+m.Message.Text)
	}
	if a, b := strings.Join(slackSaw, "\n----\n"), strings.Join(dryRunSaid, "\n----\n"); a != b {
		t.Fatalf("Slack received:\n%s\n\nthe dry run said:\n%s", a, b)
	}
	t.Logf("%d messages agree", len(slackSaw))
}
