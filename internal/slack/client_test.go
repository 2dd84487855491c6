package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

func TestPost(t *testing.T) {
	fs, c := newFake(t)
	m, _ := Pack([]event.Event{ev("login.complete", "user_email", "a@example.com", "user_name", "<!channel>")}, false)
	if err := postErr(c.Post(t.Context(), "C0GENERAL1", m)); err != nil {
		t.Fatal(err)
	}
	posts := fs.Posts()
	if len(posts) != 1 {
		t.Fatalf("%d posts", len(posts))
	}
	p := posts[0]
	if p.Channel != "C0GENERAL1" || p.Token != "xoxb-good" || p.Text != m.Text {
		t.Errorf("post = %+v", p)
	}
	for k, want := range map[string]string{"unfurl_links": "false", "unfurl_media": "false", "parse": "", "link_names": ""} {
		if got := p.Params.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	var blocks []map[string]any
	if err := json.Unmarshal(p.Blocks, &blocks); err != nil || len(blocks) != len(m.Blocks) {
		t.Errorf("blocks %s: %v", p.Blocks, err)
	}
	if all := p.AllText(); strings.Contains(all, "<!channel>") || !strings.Contains(all, "&lt;!channel&gt;") {
		t.Errorf("AllText = %q", all)
	}
}

// Post and Reply say where the message landed: chat.update and thread
// replies name it by channel ID and ts.
func TestPostAndReplyReturnChannelAndTS(t *testing.T) {
	fs, c := newFake(t)
	ctx := t.Context()
	parent, err := c.Post(ctx, "C0GENERAL1", Message{Text: "parent"})
	if err != nil {
		t.Fatal(err)
	}
	if parent.Channel != "C0GENERAL1" || parent.TS == "" {
		t.Fatalf("Post = %+v, want the channel ID and a ts", parent)
	}
	reply, err := c.Reply(ctx, parent.Channel, parent.TS, Message{Text: "reply"})
	if err != nil {
		t.Fatal(err)
	}
	if reply.TS == "" || reply.TS == parent.TS {
		t.Fatalf("Reply = %+v after parent %+v", reply, parent)
	}
	posts := fs.Posts()
	if got := posts[1].Params.Get("thread_ts"); got != parent.TS {
		t.Errorf("reply thread_ts = %q, want %q", got, parent.TS)
	}
	if got := posts[0].Params.Get("thread_ts"); got != "" {
		t.Errorf("top-level post has thread_ts %q", got)
	}
}

// Update sends chat.update with the channel, the ts, the text and the
// blocks, and reads Slack's ok:false like a post.
func TestUpdate(t *testing.T) {
	var body struct {
		Channel, TS, Text string
		Blocks            json.RawMessage
	}
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = r.Header.Get("Authorization")
		body.Channel, body.TS, body.Text, body.Blocks = "", "", "", nil
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
			fmt.Fprint(w, `{"ok":false,"error":"invalid_json"}`)
			return
		}
		if r.URL.Path != "/api/chat.update" {
			fmt.Fprint(w, `{"ok":false,"error":"unknown_method"}`)
			return
		}
		if body.TS == "1.000002" {
			fmt.Fprint(w, `{"ok":false,"error":"message_not_found"}`)
			return
		}
		fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":%q,"text":"echo"}`, body.Channel, body.TS)
	}))
	defer srv.Close()
	c := New(Options{APIURL: srv.URL + "/api/", Token: "xoxb-good"})
	m, _ := Pack([]event.Event{ev("release.promote", "status", "success")}, false)
	got, err := c.Update(t.Context(), "C0GENERAL1", "1.000001", m)
	if err != nil {
		t.Fatal(err)
	}
	if got != (Posted{Channel: "C0GENERAL1", TS: "1.000001"}) {
		t.Errorf("Update = %+v", got)
	}
	if auth != "Bearer xoxb-good" || body.Text != m.Text || len(body.Blocks) == 0 {
		t.Errorf("chat.update: Authorization %q, body %+v", auth, body)
	}
	_, err = c.Update(t.Context(), "C0GENERAL1", "1.000002", m)
	if class, reason, _ := Classify(err); class != Permanent || reason != "message_not_found" {
		t.Errorf("Update of a missing message: %v (%v %s)", err, class, reason)
	}
}

func TestClassifyAgainstFake(t *testing.T) {
	fs, c := newFake(t)
	fs.AddChannel("C0OUTSIDE1", "outside", false)
	msg := Message{Text: "hello"}
	ctx := t.Context()

	check := func(name string, err error, class Class, reason string) time.Duration {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		gc, gr, ra := Classify(err)
		if gc != class || gr != reason {
			t.Errorf("%s: Classify(%v) = %v %q, want %v %q", name, err, gc, gr, class, reason)
		}
		return ra
	}

	check("unknown channel", postErr(c.Post(ctx, "C0NOWHERE1", msg)), Permanent, "channel_not_found")
	check("not a member", postErr(c.Post(ctx, "C0OUTSIDE1", msg)), Permanent, "not_in_channel")
	check("bad token", postErr(New(Options{APIURL: fs.URL, Token: "xoxb-bad"}).Post(ctx, "C0GENERAL1", msg)), Auth, "invalid_auth")
	fs.FailNext("chat.postMessage", "msg_blocks_too_long", 1)
	check("payload", postErr(c.Post(ctx, "C0GENERAL1", msg)), Payload, "msg_blocks_too_long")
	fs.FailNext("chat.postMessage", "is_archived", 1)
	check("archived", postErr(c.Post(ctx, "C0GENERAL1", msg)), Permanent, "is_archived")

	fs.SetRateLimit(time.Hour)
	if err := postErr(c.Post(ctx, "C0GENERAL1", msg)); err != nil {
		t.Fatal(err)
	}
	ra := check("429", postErr(c.Post(ctx, "C0GENERAL1", msg)), Retry, "ratelimited")
	if ra < 59*time.Minute || ra > time.Hour {
		t.Errorf("retryAfter = %v", ra)
	}
	at := fs.Attempts("chat.postMessage")
	if last := at[len(at)-1]; last.Status != 429 || last.Error != "ratelimited" {
		t.Errorf("attempt = %+v", last)
	}
	fs.SetRateLimit(0)

	fs.SetMode(fakeslack.ModeRateLimitNoRetryAfter)
	if ra := check("429 without Retry-After", postErr(c.Post(ctx, "C0GENERAL1", msg)), Retry, "ratelimited"); ra != 0 {
		t.Errorf("retryAfter = %v", ra)
	}
	fs.SetMode(fakeslack.ModeError500)
	check("500", postErr(c.Post(ctx, "C0GENERAL1", msg)), Retry, "http_5xx")

	fs.SetMode(fakeslack.ModeHang)
	short := New(Options{APIURL: fs.URL, Token: "xoxb-good", Timeout: 100 * time.Millisecond})
	check("hang", postErr(short.Post(ctx, "C0GENERAL1", msg)), Retry, "timeout")
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	check("hang ctx", postErr(c.Post(dctx, "C0GENERAL1", msg)), Retry, "timeout")
	cancel()
	fs.SetMode(fakeslack.ModeOK)

	fs.RevokeToken("xoxb-good")
	check("revoked", postErr(c.Post(ctx, "C0GENERAL1", msg)), Auth, "token_revoked")
	_, err := c.AuthTest(ctx)
	check("revoked auth.test", err, Auth, "token_revoked")
	_, err = c.ListChannels(ctx)
	check("revoked list", err, Auth, "token_revoked")

	// Nothing listens on a closed port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	check("refused", postErr(New(Options{APIURL: "http://" + addr + "/api", Token: "x"}).Post(ctx, "C0GENERAL1", msg)), Retry, "network")
}

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("outer: %w", err) }
	for _, c := range []struct {
		err    error
		class  Class
		reason string
		after  time.Duration
	}{
		{wrap(slackapi.SlackErrorResponse{Err: "channel_not_found"}), Permanent, "channel_not_found", 0},
		{wrap(&slackapi.SlackErrorResponse{Err: "not_in_channel"}), Permanent, "not_in_channel", 0},
		{slackapi.SlackErrorResponse{Err: "restricted_action_read_only_channel"}, Permanent, "restricted_action_read_only_channel", 0},
		{slackapi.SlackErrorResponse{Err: "ekm_access_denied"}, Permanent, "ekm_access_denied", 0},
		{slackapi.SlackErrorResponse{Err: "some_new_code"}, Permanent, "some_new_code", 0},
		{slackapi.SlackErrorResponse{Err: "Weird Code <!channel>"}, Permanent, "unknown_error", 0},
		{slackapi.SlackErrorResponse{Err: "msg_too_long"}, Payload, "msg_too_long", 0},
		{slackapi.SlackErrorResponse{Err: "invalid_blocks"}, Payload, "invalid_blocks", 0},
		{slackapi.SlackErrorResponse{Err: "no_text"}, Payload, "no_text", 0},
		{slackapi.SlackErrorResponse{Err: "too_many_attachments"}, Payload, "too_many_attachments", 0},
		{slackapi.SlackErrorResponse{Err: "invalid_auth"}, Auth, "invalid_auth", 0},
		{slackapi.SlackErrorResponse{Err: "not_authed"}, Auth, "not_authed", 0},
		{slackapi.SlackErrorResponse{Err: "token_expired"}, Auth, "token_expired", 0},
		{slackapi.SlackErrorResponse{Err: "account_inactive"}, Auth, "account_inactive", 0},
		{slackapi.SlackErrorResponse{Err: "missing_scope"}, Auth, "missing_scope", 0},
		{slackapi.SlackErrorResponse{Err: "service_unavailable"}, Retry, "service_unavailable", 0},
		{slackapi.SlackErrorResponse{Err: "fatal_error"}, Retry, "fatal_error", 0},
		{slackapi.SlackErrorResponse{Err: "request_timeout"}, Retry, "request_timeout", 0},
		{slackapi.SlackErrorResponse{Err: "internal_error"}, Retry, "internal_error", 0},
		{slackapi.SlackErrorResponse{Err: "message_limit_exceeded"}, Retry, "ratelimited", 0},
		{slackapi.SlackErrorResponse{Err: "ratelimited"}, Retry, "ratelimited", 0},
		{wrap(&slackapi.RateLimitedError{RetryAfter: 7 * time.Second}), Retry, "ratelimited", 7 * time.Second},
		{slackapi.StatusCodeError{Code: 429}, Retry, "ratelimited", 0},
		{slackapi.StatusCodeError{Code: 503}, Retry, "http_5xx", 0},
		{slackapi.StatusCodeError{Code: 404}, Retry, "http_4xx", 0},
		{wrap(context.DeadlineExceeded), Retry, "timeout", 0},
		{wrap(context.Canceled), Retry, "canceled", 0},
		{wrap(io.ErrUnexpectedEOF), Retry, "network", 0},
		{&net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, Retry, "network", 0},
	} {
		class, reason, after := Classify(c.err)
		if class != c.class || reason != c.reason || after != c.after {
			t.Errorf("Classify(%v) = %v %q %v, want %v %q %v", c.err, class, reason, after, c.class, c.reason, c.after)
		}
	}
}

func TestListChannelsAndAuthTest(t *testing.T) {
	fs, c := newFake(t)
	for i := range 4 {
		fs.AddChannel(fmt.Sprintf("C0CHAN000%d", i), fmt.Sprint("chan", i), i%2 == 0)
	}
	got, err := c.ListChannels(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Channel{{"C0GENERAL1", "general", true}, {"C0CHAN0000", "chan0", true}, {"C0CHAN0001", "chan1", false},
		{"C0CHAN0002", "chan2", true}, {"C0CHAN0003", "chan3", false}}
	if !slices.Equal(got, want) {
		t.Errorf("channels = %v", got)
	}
	if n := len(fs.Attempts("conversations.list")); n != 3 {
		t.Errorf("%d conversations.list requests for 5 channels, 2 a page", n)
	}

	id, err := c.AuthTest(t.Context())
	if err != nil || id.TeamID != "T0FAKE" || id.UserID == "" || id.BotID == "" || id.Team == "" {
		t.Errorf("AuthTest = %+v, %v", id, err)
	}
}

func TestResolver(t *testing.T) {
	fs, c := newFake(t)
	fs.AddChannel("C0SECURITY", "security", true)
	var mu sync.Mutex
	listings := 0
	r := NewResolver(func(ctx context.Context) ([]Channel, error) {
		mu.Lock()
		listings++
		mu.Unlock()
		return c.ListChannels(ctx)
	}, time.Hour)
	ctx := t.Context()
	lists := func() int {
		mu.Lock()
		defer mu.Unlock()
		return listings
	}

	if id, err := r.Resolve(ctx, "C0ANYTHING1"); err != nil || id != "C0ANYTHING1" || lists() != 0 {
		t.Errorf("ID: %q %v, %d lists", id, err, lists())
	}
	for _, name := range []string{"#security", "security", "#Security", " #security "} {
		if id, err := r.Resolve(ctx, name); err != nil || id != "C0SECURITY" {
			t.Errorf("Resolve(%q) = %q, %v", name, id, err)
		}
	}
	if lists() != 1 {
		t.Errorf("%d lists, want 1 (cached)", lists())
	}

	// Unknown: at most one listing per minRefresh, then channel_not_found.
	fs.AddChannel("C0LATER001", "later", true)
	if _, err := r.Resolve(ctx, "#later"); !isNotFound(err) || lists() != 1 {
		t.Errorf("unknown within minRefresh: %v, %d lists", err, lists())
	}
	now := time.Now()
	r.now = func() time.Time { return now.Add(time.Hour) }
	if _, err := r.Resolve(ctx, "#nowhere"); !isNotFound(err) || lists() != 2 {
		t.Errorf("unknown after minRefresh: %v, %d lists", err, lists())
	}
	if _, err := r.Resolve(ctx, "#nowhere"); !isNotFound(err) || lists() != 2 {
		t.Errorf("unknown again: %v, %d lists", err, lists())
	}
	if id, err := r.Resolve(ctx, "#later"); err != nil || id != "C0LATER001" || lists() != 2 {
		t.Errorf("later (listed by the refresh): %q %v, %d lists", id, err, lists())
	}

	r.Invalidate()
	if id, err := r.Resolve(ctx, "#security"); err != nil || id != "C0SECURITY" || lists() != 3 {
		t.Errorf("after Invalidate: %q %v, %d lists", id, err, lists())
	}

	// minRefresh 0: every unknown name lists again and sees new channels.
	r0 := NewResolver(c.ListChannels, 0)
	if _, err := r0.Resolve(ctx, "fresh"); !isNotFound(err) {
		t.Errorf("fresh: %v", err)
	}
	fs.AddChannel("C0FRESH001", "fresh", true)
	if id, err := r0.Resolve(ctx, "fresh"); err != nil || id != "C0FRESH001" {
		t.Errorf("fresh: %q %v", id, err)
	}

	// A failed listing is a Retry error, never channel_not_found.
	fs.RevokeToken("xoxb-good")
	rb := NewResolver(c.ListChannels, time.Hour)
	if _, err := rb.Resolve(ctx, "#security"); err == nil || isNotFound(err) {
		t.Errorf("revoked: %v", err)
	} else if class, reason, _ := Classify(err); class != Auth || reason != "token_revoked" {
		t.Errorf("revoked: %v %q", class, reason)
	}
}

func isNotFound(err error) bool {
	class, reason, _ := Classify(err)
	return err != nil && class == Permanent && reason == "channel_not_found"
}

func TestResolverConcurrent(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	list := func(ctx context.Context) ([]Channel, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		<-release
		return []Channel{{ID: "C0SECURITY", Name: "security"}}, nil
	}
	r := NewResolver(list, time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			id, err := r.Resolve(t.Context(), "#security")
			if err == nil && id != "C0SECURITY" {
				err = fmt.Errorf("id %q", id)
			}
			errs <- err
		})
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if calls < 1 || calls > 20 {
		t.Errorf("%d listings", calls)
	}

	// A caller that gives up does not wait for the listing.
	block := make(chan struct{})
	defer close(block)
	slow := NewResolver(func(ctx context.Context) ([]Channel, error) { <-block; return nil, nil }, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := slow.Resolve(ctx, "#x"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestExchange(t *testing.T) {
	fs, _ := newFake(t)
	fs.SetClientCredentials("cid", "secret")
	fs.SetRedirectURI("https://gw.example.com/cb")
	fs.AddOAuthCode("code1", "xoxb-new", "T0NEW", "New Team", "U0NEWBOT")
	o := Options{APIURL: fs.URL}
	ctx := t.Context()

	in, err := Exchange(ctx, o, "cid", "secret", "code1", "https://gw.example.com/cb")
	if err != nil {
		t.Fatal(err)
	}
	want := Install{AccessToken: "xoxb-new", TokenType: "bot", Scope: "channels:read,chat:write",
		BotUserID: "U0NEWBOT", AppID: "A0FAKEAPP", TeamID: "T0NEW", TeamName: "New Team"}
	if in != want {
		t.Errorf("install = %+v", in)
	}
	// The new token works.
	if id, err := New(Options{APIURL: fs.URL, Token: in.AccessToken}).AuthTest(ctx); err != nil || id.TeamID != "T0NEW" {
		t.Errorf("auth.test with new token: %+v %v", id, err)
	}

	for _, c := range []struct{ id, secret, code, redirect, reason string }{
		{"cid", "secret", "code1", "https://gw.example.com/cb", "code_already_used"},
		{"cid", "secret", "nope", "https://gw.example.com/cb", "invalid_code"},
		{"other", "secret", "code1", "https://gw.example.com/cb", "invalid_client_id"},
		{"cid", "wrong", "code1", "https://gw.example.com/cb", "bad_client_secret"},
	} {
		_, err := Exchange(ctx, o, c.id, c.secret, c.code, c.redirect)
		if class, reason, _ := Classify(err); class != Permanent || reason != c.reason {
			t.Errorf("%s: %v (%v %q)", c.reason, err, class, reason)
		}
	}
	fs.AddOAuthCode("code2", "xoxb-2", "T0NEW", "New Team", "U0NEWBOT")
	if _, err := Exchange(ctx, o, "cid", "secret", "code2", "https://evil.example.com/cb"); err == nil || !strings.Contains(err.Error(), "bad_redirect_uri") {
		t.Errorf("bad redirect: %v", err)
	}
}

func TestObserve(t *testing.T) {
	fs, _ := newFake(t)
	fs.AddOAuthCode("code1", "xoxb-new", "T0NEW", "New Team", "U0NEWBOT")
	var mu sync.Mutex
	var seen []string
	o := Options{APIURL: strings.TrimSuffix(fs.URL, "/"), Token: "xoxb-good", Observe: func(m string, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if d <= 0 {
			t.Errorf("%s: duration %v", m, d)
		}
		seen = append(seen, m)
	}}
	c := New(o)
	ctx := t.Context()
	if err := postErr(c.Post(ctx, "C0GENERAL1", Message{Text: "x"})); err != nil {
		t.Fatal(err)
	}
	_ = postErr(c.Post(ctx, "C0NOWHERE1", Message{Text: "x"})) // failed requests count too
	if _, err := c.ListChannels(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthTest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Exchange(ctx, o, "id", "secret", "code1", "https://x/cb"); err != nil {
		t.Fatal(err)
	}
	want := []string{"chat.postMessage", "chat.postMessage", "conversations.list", "auth.test", "oauth.v2.access"}
	if !slices.Equal(seen, want) {
		t.Errorf("observed %v, want %v", seen, want)
	}
}

// postErr is the error of a Post, for checks that only look at the error.
func postErr(_ Posted, err error) error { return err }

// The calls that decode their own answers (conversations.list, auth.test)
// give the same errors as message calls for Slack's HTTP statuses: the fake
// Slack's outage modes only cover message calls, so a plain server answers.
func TestListAndAuthTestStatusErrors(t *testing.T) {
	for _, c := range []struct {
		status     int
		retryAfter string
		body       string
		reason     string
		after      time.Duration
	}{
		{http.StatusTooManyRequests, "7", `{"ok":false,"error":"ratelimited"}`, "ratelimited", 7 * time.Second},
		{http.StatusServiceUnavailable, "", "<html>down</html>", "http_5xx", 0},
		{http.StatusOK, "", "<html>not json</html>", "network", 0},
		{http.StatusOK, "", `{"ok":false,"error":"missing_scope"}`, "missing_scope", 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer xoxb-good" {
				t.Errorf("%s: Authorization %q", r.URL.Path, r.Header.Get("Authorization"))
			}
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(c.status)
			io.WriteString(w, c.body)
		}))
		cl := New(Options{APIURL: srv.URL + "/api/", Token: "xoxb-good"})
		_, listErr := cl.ListChannels(t.Context())
		_, authErr := cl.AuthTest(t.Context())
		for name, err := range map[string]error{"conversations.list": listErr, "auth.test": authErr} {
			if err == nil || !strings.HasPrefix(err.Error(), name+": ") {
				t.Errorf("%d %s: %s: error %v, want one naming the method", c.status, c.body, name, err)
				continue
			}
			if _, reason, after := Classify(err); reason != c.reason || after != c.after {
				t.Errorf("%d %s: %s: Classify = %q %v, want %q %v", c.status, c.body, name, reason, after, c.reason, c.after)
			}
		}
		srv.Close()
	}
}
