package dryrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/threads"
	"github.com/auditfwd/auditfwd/internal/token"
)

// senders is the delivery service posting channel "security" (#security)
// to a fake Slack, as the daemon's senders do.
type senders struct {
	t   *testing.T
	fs  *fakeslack.Server
	svc *delivery.Service
}

func newSenders(t *testing.T) *senders {
	t.Helper()
	fs, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	const tok = "xoxb-dry-run-test"
	fs.AddToken(tok)
	fs.AddChannel("C0SECURITY1", "security", true)
	t.Setenv(token.EnvVar, "")
	dir := t.TempDir()
	m, log := metrics.New("test"), slog.New(slog.DiscardHandler)
	conn := delivery.NewConnection(slack.Options{APIURL: fs.URL, Timeout: 2 * time.Second}, dir+"/token.json", log, m)
	conn.Set(token.Token{AccessToken: tok})
	svc, err := delivery.New(delivery.Options{State: statedir.Dir(dir), Logger: log, Metrics: m, Conn: conn, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		svc.Wait(5 * time.Second)
	})
	if err := svc.Start(ctx, []config.Target{{Name: "security", SlackChannel: "#security"}}); err != nil {
		t.Fatal(err)
	}
	return &senders{t: t, fs: fs, svc: svc}
}

// send queues line for d and waits until Slack has one more post than before.
func (s *senders) send(d rules.Destination, line string, pos logpos.Position) []fakeslack.Post {
	s.t.Helper()
	before := len(s.fs.Posts())
	if _, err := s.svc.Enqueue(d, []byte(line), pos); err != nil {
		s.t.Fatal(err)
	}
	s.svc.Publish()
	if err := s.svc.Sync(); err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	posts, err := s.fs.WaitPosts(ctx, before+1)
	if err != nil {
		s.t.Fatalf("waiting for post %d: have %d", before+1, len(s.fs.Posts()))
	}
	return posts
}

// The senders and the dry run carry out the same threads.Decide: fed the
// same events one at a time, the dry run prints exactly what Slack
// receives (each message's kind and text, in order).
func TestDeliveryAndDryRunAgree(t *testing.T) {
	approval := rules.Destination{Channel: "security", SlackChannel: "#security", Mention: []string{"here", "S0APPROVERS"}, Thread: threads.Spec{Approval: true}.String()}
	flood := rules.Destination{Channel: "security", SlackChannel: "#security", Mention: []string{"U0ONCALL"}, Thread: threads.Spec{By: "ip_address", Window: time.Hour}.String()}
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

	f := newSenders(t)
	var dry bytes.Buffer
	p := newPrinter(&dry, nil, writeJSON)
	var slackSaw []string
	for i, s := range steps {
		posts, edits := len(f.fs.Posts()), len(f.fs.Edits())
		got := f.send(s.d, s.line, logpos.Position{Gen: 1, Offset: int64(100 * (i + 1))})
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
