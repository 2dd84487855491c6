package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/token"
)

// fakeSlack is an in-memory Slack behind the Messenger seam: it answers
// each post with the next scripted error (nil: accepted) and records what
// it accepted.
type fakeSlack struct {
	mu      sync.Mutex
	script  []error
	posts   []slack.Message
	calls   int
	changed chan struct{}
}

func newFakeSlack(script ...error) *fakeSlack {
	return &fakeSlack{script: script, changed: make(chan struct{}, 1)}
}

func (f *fakeSlack) Post(_ context.Context, channelID string, m slack.Message) (slack.Posted, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	defer func() {
		select {
		case f.changed <- struct{}{}:
		default:
		}
	}()
	f.calls++
	if len(f.script) > 0 {
		err := f.script[0]
		f.script = f.script[1:]
		if err != nil {
			return slack.Posted{}, err
		}
	}
	f.posts = append(f.posts, m)
	return slack.Posted{Channel: channelID, TS: fmt.Sprintf("1.%06d", len(f.posts))}, nil
}

func (f *fakeSlack) Reply(ctx context.Context, channelID, _ string, m slack.Message) (slack.Posted, error) {
	return f.Post(ctx, channelID, m)
}

func (f *fakeSlack) Update(_ context.Context, channelID, ts string, _ slack.Message) (slack.Posted, error) {
	return slack.Posted{Channel: channelID, TS: ts}, nil
}

func (f *fakeSlack) ListChannels(context.Context) ([]slack.Channel, error) { return nil, nil }

func (f *fakeSlack) AuthTest(context.Context) (slack.Identity, error) { return slack.Identity{}, nil }

// texts is the fallback text of every accepted post.
func (f *fakeSlack) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.posts {
		out = append(out, m.Text)
	}
	return out
}

// waitFor waits until ok holds for the fake's state.
func (f *fakeSlack) waitFor(t *testing.T, what string, ok func(calls int, texts []string) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		f.mu.Lock()
		calls := f.calls
		f.mu.Unlock()
		if ok(calls, f.texts()) {
			return
		}
		select {
		case <-f.changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s: %d calls, accepted %q", what, calls, f.texts())
		}
	}
}

// newFakeService runs a Service whose connection dials fake for every
// token. The target is a channel ID, so nothing is resolved.
func newFakeService(t *testing.T, fake *fakeSlack) (*Service, *Connection) {
	return newFakeServiceWith(t, fake, true, func(*Options) {})
}

// newFakeServiceWith is newFakeService with a token installed or not and
// the options changed by with.
func newFakeServiceWith(t *testing.T, fake *fakeSlack, withToken bool, with func(*Options)) (*Service, *Connection) {
	t.Helper()
	t.Setenv(token.EnvVar, "")
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	m := metrics.New("test")
	conn := NewConnection(slack.Options{}, dir+"/token.json", log, m)
	conn.dial = func(string) tokenClient { return fake }
	if withToken {
		conn.Set(token.Token{AccessToken: "xoxb-fake"})
	}
	o := Options{State: statedir.Dir(dir), Logger: log, Metrics: m, Conn: conn, MaxBackoff: 50 * time.Millisecond}
	with(&o)
	svc := startService(t, o, "C0SECURITY1")
	return svc, conn
}

func enqueue(t *testing.T, svc *Service, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		line := fmt.Sprintf(`{"action":"login.complete","resource":"evt-%03d","status":"success"}`, i)
		if _, err := svc.Enqueue(rules.Destination{Channel: "security", SlackChannel: "C0SECURITY1"}, []byte(line), logpos.Position{Gen: 1, Offset: int64(100 * (i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	svc.Publish()
	if err := svc.Sync(); err != nil {
		t.Fatal(err)
	}
}

func slackErr(code string) error {
	return fmt.Errorf("chat.postMessage: %w", slackapi.SlackErrorResponse{Err: code})
}

// A channel problem sends the message's events to dead letters, and the
// sender goes on with the next ones.
func TestSenderDeadLettersAndGoesOn(t *testing.T) {
	fake := newFakeSlack(slackErr("not_in_channel"))
	svc, _ := newFakeService(t, fake)
	enqueue(t, svc, 1, 3)
	fake.waitFor(t, "the first rejection", func(calls int, _ []string) bool { return calls >= 1 })
	enqueue(t, svc, 3, 4)
	fake.waitFor(t, "evt-003 accepted", func(_ int, texts []string) bool { return len(texts) == 1 })
	if got := fake.texts()[0]; !strings.Contains(got, "evt-003") || strings.Contains(got, "evt-001") {
		t.Fatalf("accepted %q, want evt-003 alone", got)
	}
	if n := svc.dead.Count("security"); n != 2 {
		t.Fatalf("%d dead letters, want evt-001 and evt-002", n)
	}
}

// Transient failures are retried with the same events until Slack takes them.
func TestSenderRetriesTransientFailures(t *testing.T) {
	fake := newFakeSlack(fmt.Errorf("chat.postMessage: %w", slackapi.StatusCodeError{Code: 503}), context.DeadlineExceeded)
	svc, _ := newFakeService(t, fake)
	enqueue(t, svc, 1, 4)
	fake.waitFor(t, "the digest accepted", func(_ int, texts []string) bool { return len(texts) == 1 })
	f := fake.texts()[0]
	if !strings.Contains(f, "evt-001") || !strings.Contains(f, "evt-003") {
		t.Fatalf("accepted %q, want the digest of evt-001..003", f)
	}
	if n := svc.dead.Count("security"); n != 0 {
		t.Fatalf("%d dead letters after transient failures", n)
	}
}

// A rejected token holds delivery (no post at all) until a new token arrives.
func TestSenderHoldsOnAuthFailure(t *testing.T) {
	fake := newFakeSlack(slackErr("invalid_auth"))
	svc, conn := newFakeService(t, fake)
	enqueue(t, svc, 1, 2)
	fake.waitFor(t, "the rejection", func(calls int, _ []string) bool { return calls >= 1 })
	deadline := time.Now().Add(10 * time.Second)
	for conn.session().Usable { // Invalid runs right after the post returns
		if time.Now().After(deadline) {
			t.Fatal("the connection is still usable after invalid_auth")
		}
		time.Sleep(5 * time.Millisecond)
	}
	enqueue(t, svc, 2, 3)
	if q := svc.Statuses()[0].Queue; q != 2 {
		t.Fatalf("queue %d, want 2 held events", q)
	}
	fake.mu.Lock()
	calls := fake.calls
	fake.mu.Unlock()
	if calls != 1 {
		t.Fatalf("%d posts with a rejected token", calls-1)
	}
	conn.Set(token.Token{AccessToken: "xoxb-new"})
	fake.waitFor(t, "the held events", func(_ int, texts []string) bool {
		return len(texts) == 1 && strings.Contains(texts[0], "evt-001") && strings.Contains(texts[0], "evt-002")
	})
}
