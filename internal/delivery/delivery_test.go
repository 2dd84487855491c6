package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/token"
)

const tok = "xoxb-delivery-test"

type fixture struct {
	t    *testing.T
	fs   *fakeslack.Server
	svc  *Service
	conn *Connection
	m    *metrics.Metrics
	pos  int64
}

func newFixture(t *testing.T, withToken bool) *fixture {
	t.Helper()
	fs, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fs.Close)
	fs.AddToken(tok)
	fs.AddChannel("C0SECURITY1", "security", true)
	dir := t.TempDir()
	t.Setenv(token.EnvVar, "")
	m := metrics.New("test")
	log := slog.New(slog.DiscardHandler)
	conn := NewConnection(slack.Options{APIURL: fs.URL, Timeout: 2 * time.Second}, dir+"/token.json", log, m)
	if withToken {
		conn.Set(token.Token{AccessToken: tok})
	}
	svc := startService(t, Options{State: statedir.Dir(dir), Logger: log, Metrics: m, Conn: conn, MaxBackoff: 200 * time.Millisecond}, "#security")
	return &fixture{t: t, fs: fs, svc: svc, conn: conn, m: m}
}

// startService starts a Service with the one channel "security" at
// slackChannel; the test's end stops it.
func startService(t *testing.T, o Options, slackChannel string) *Service {
	t.Helper()
	svc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		svc.Wait(5 * time.Second)
	})
	if err := svc.Start(ctx, []config.Target{{Name: "security", SlackChannel: slackChannel}}); err != nil {
		t.Fatal(err)
	}
	return svc
}

func (f *fixture) enqueue(n ...int) {
	f.t.Helper()
	for _, i := range n {
		f.pos += 100
		line := fmt.Sprintf(`{"action":"login.complete","resource":"evt-%03d","status":"success"}`, i)
		if _, err := f.svc.Enqueue(rules.Destination{Channel: "security", SlackChannel: "#security"}, []byte(line), logpos.Position{Gen: 1, Offset: f.pos}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.svc.Publish()
	if err := f.svc.Sync(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) waitPosts(n int) []fakeslack.Post {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	posts, err := f.fs.WaitPosts(ctx, n)
	if err != nil {
		f.t.Fatalf("waiting for %d posts: have %d", n, len(f.fs.Posts()))
	}
	return posts
}

func TestTooLargeDigestFallsBackToSingleThenText(t *testing.T) {
	f := newFixture(t, false)
	f.enqueue(1, 2, 3)
	// Slack refuses the digest, then the single event's blocks.
	f.fs.FailNext("chat.postMessage", "msg_blocks_too_long", 2)
	f.conn.Set(token.Token{AccessToken: tok})
	posts := f.waitPosts(2)
	if posts[0].Blocks != nil || !strings.Contains(posts[0].Text, "evt-001") || strings.Contains(posts[0].Text, "evt-002") {
		t.Fatalf("first post after two payload errors should be evt-001 alone, text only: %+v", posts[0])
	}
	// Back to normal after that: the rest goes as a digest with blocks.
	if all := posts[1].AllText(); !strings.Contains(all, "evt-002") || !strings.Contains(all, "evt-003") || posts[1].Blocks == nil {
		t.Fatalf("second post should be a digest of evt-002 and evt-003: %s", all)
	}
}

func TestRevokedTokenHoldsEverythingUntilANewOne(t *testing.T) {
	f := newFixture(t, true)
	f.enqueue(1)
	f.waitPosts(1)
	f.fs.RevokeToken(tok)
	attempts := len(f.fs.Attempts("chat.postMessage")) // before the enqueue: the sender may post at once
	f.enqueue(2, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.fs.WaitAttempts(ctx, "chat.postMessage", attempts+1); err != nil {
		t.Fatal("no attempt with the revoked token")
	}
	deadline := time.Now().Add(10 * time.Second)
	for connected, _, _ := f.conn.State(); connected; connected, _, _ = f.conn.State() {
		if time.Now().After(deadline) {
			t.Fatal("connection still marked connected after token_revoked")
		}
		time.Sleep(10 * time.Millisecond) // polling a state with no event to wait on
	}
	posted := len(f.fs.Attempts("chat.postMessage"))
	f.enqueue(4)
	// Delivery is held: the spool keeps the events and no post is tried.
	if q := f.svc.Statuses()[0].Queue; q != 3 {
		t.Fatalf("queue %d, want 3 held events", q)
	}
	if n := len(f.fs.Attempts("chat.postMessage")); n != posted {
		t.Fatalf("%d posts tried with a revoked token", n-posted)
	}
	f.fs.AddToken("xoxb-new")
	f.conn.Set(token.Token{AccessToken: "xoxb-new"})
	posts := f.waitPosts(2)
	if !strings.Contains(posts[1].AllText(), "evt-002") || !strings.Contains(posts[1].AllText(), "evt-004") {
		t.Fatalf("held events not delivered as a digest after reconnect: %s", posts[1].AllText())
	}
	if d := f.svc.dead.Count("security"); d != 0 {
		t.Fatalf("%d events dead-lettered for an auth problem", d)
	}
}

func TestBackoffIsJitteredAndCapped(t *testing.T) {
	s := &Service{opts: Options{MaxBackoff: 30 * time.Second}}
	for attempt := 0; attempt < 40; attempt++ {
		want := min(time.Second<<min(attempt, 10), 30*time.Second)
		for i := 0; i < 50; i++ {
			d := s.backoff(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestRedeliverKeepsWhatStillFails(t *testing.T) {
	path := t.TempDir() + "/dead-letter.jsonl"
	d := OpenDeadLetters(path, nil)
	for i := 0; i < 3; i++ {
		if err := d.Append(DeadLetter{Channel: "security", Reason: "not_in_channel", Event: []byte(fmt.Sprintf(`{"action":"x","n":%d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	sent, kept, err := Redeliver(path, nil, func(dl DeadLetter) error {
		if strings.Contains(string(dl.Event), `"n":1`) {
			return fmt.Errorf("still not in channel")
		}
		return nil
	})
	if err != nil || sent != 2 || kept != 1 {
		t.Fatalf("sent %d kept %d err %v", sent, kept, err)
	}
	left, err := readDeadLetters(path)
	if err != nil || len(left.entries) != 1 || !strings.Contains(string(left.entries[0].Event), `"n":1`) {
		t.Fatalf("left %+v %v", left, err)
	}
}
