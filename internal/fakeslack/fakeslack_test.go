package fakeslack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T) *Server {
	t.Helper()
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddToken("xoxb-good")
	s.AddChannel("C0GENERAL1", "general", true)
	return s
}

type answer struct {
	Status     int
	RetryAfter string
	OK         bool   `json:"ok"`
	Error      string `json:"error"`
	Channel    string `json:"channel"`
	TS         string `json:"ts"`
	Channels   []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		IsMember bool   `json:"is_member"`
	} `json:"channels"`
	Meta struct {
		NextCursor string `json:"next_cursor"`
	} `json:"response_metadata"`
}

// call posts a form the way slack-go does (token in the form).
func call(t *testing.T, ctx context.Context, s *Server, method string, form url.Values) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+method, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	body, _ := io.ReadAll(resp.Body)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("%s: %v: %s", method, err, body)
		}
	}
	a.Status, a.RetryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	return a
}

func post(channel, text, blocks string) url.Values {
	v := url.Values{"token": {"xoxb-good"}, "channel": {channel}, "text": {text}}
	if blocks != "" {
		v.Set("blocks", blocks)
	}
	return v
}

func TestPostValidation(t *testing.T) {
	s := start(t)
	s.AddChannel("C0OUTSIDE1", "outside", false)
	ctx := t.Context()
	long := strings.Repeat("é", 3001)
	blocks51 := "[" + strings.TrimSuffix(strings.Repeat(`{"type":"divider"},`, 51), ",") + "]"
	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"ok", post("C0GENERAL1", "hi", ""), ""},
		{"by name", post("#general", "hi", ""), ""},
		{"blocks only", post("C0GENERAL1", "", `[{"type":"section","text":{"type":"mrkdwn","text":"x"}}]`), ""},
		{"no channel", post("", "hi", ""), "channel_not_found"},
		{"unknown channel", post("C0NOWHERE1", "hi", ""), "channel_not_found"},
		{"unknown name", post("#nowhere", "hi", ""), "channel_not_found"},
		{"not member", post("C0OUTSIDE1", "hi", ""), "not_in_channel"},
		{"no text", post("C0GENERAL1", "", ""), "no_text"},
		{"empty blocks no text", post("C0GENERAL1", "", "[]"), "no_text"},
		{"bad json", post("C0GENERAL1", "hi", "[{"), "invalid_blocks"},
		{"51 blocks", post("C0GENERAL1", "hi", blocks51), "invalid_blocks"},
		{"long section", post("C0GENERAL1", "hi", `[{"type":"section","text":{"type":"mrkdwn","text":"`+long+`"}}]`), "invalid_blocks"},
		{"11 context elements", post("C0GENERAL1", "hi", `[{"type":"context","elements":[`+strings.TrimSuffix(strings.Repeat(`{"type":"mrkdwn","text":"x"},`, 11), ",")+`]}]`), "invalid_blocks"},
		{"untyped block", post("C0GENERAL1", "hi", `[{"text":{"type":"mrkdwn","text":"x"}}]`), "invalid_blocks"},
		{"long text", post("C0GENERAL1", strings.Repeat("x", 40001), ""), "msg_too_long"},
		{"no token", url.Values{"channel": {"C0GENERAL1"}, "text": {"x"}}, "not_authed"},
		{"bad token", url.Values{"token": {"xoxb-bad"}, "channel": {"C0GENERAL1"}, "text": {"x"}}, "invalid_auth"},
	} {
		a := call(t, ctx, s, "chat.postMessage", c.form)
		if a.Status != 200 || a.OK != (c.want == "") || a.Error != c.want {
			t.Errorf("%s: %+v, want %q", c.name, a, c.want)
		}
	}
	posts := s.Posts()
	if len(posts) != 3 || posts[1].Channel != "C0GENERAL1" || posts[0].Token != "xoxb-good" {
		t.Errorf("posts = %+v", posts)
	}
	if got := posts[2].AllText(); got != "\nx" {
		t.Errorf("AllText = %q", got)
	}
	if a := call(t, ctx, s, "chat.nope", url.Values{"token": {"xoxb-good"}}); a.Error != "unknown_method" || a.Status != 200 {
		t.Errorf("unknown method: %+v", a)
	}
}

func TestBearerAndJSON(t *testing.T) {
	s := start(t)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"chat.postMessage",
		strings.NewReader(`{"channel":"C0GENERAL1","text":"hi","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"&lt;!channel&gt; M1"}}]}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer xoxb-good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	posts, err := s.WaitPosts(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if all := posts[0].AllText(); all != "hi\n&lt;!channel&gt; M1" {
		t.Errorf("AllText = %q", all)
	}
}

func TestRateLimit(t *testing.T) {
	s := start(t)
	s.AddChannel("C0OTHER001", "other", true)
	s.SetRateLimit(1500 * time.Millisecond)
	ctx := t.Context()
	if a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "1", "")); !a.OK {
		t.Fatal(a)
	}
	a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "2", ""))
	if a.Status != 429 || a.RetryAfter != "2" || a.Error != "ratelimited" {
		t.Errorf("second post: %+v", a)
	}
	if a := call(t, ctx, s, "chat.postMessage", post("C0OTHER001", "3", "")); !a.OK {
		t.Errorf("other channel: %+v", a)
	}
	if n := len(s.Posts()); n != 2 {
		t.Errorf("%d posts recorded", n)
	}
	at := s.Attempts("chat.postMessage")
	if len(at) != 3 || at[1].Status != 429 || at[1].Channel != "C0GENERAL1" || at[0].Time.After(at[1].Time) {
		t.Errorf("attempts = %+v", at)
	}

	s.SetRateLimit(0)
	s.SetMode(ModeRateLimitNoRetryAfter)
	if a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "4", "")); a.Status != 429 || a.RetryAfter != "" {
		t.Errorf("no Retry-After: %+v", a)
	}
	s.SetMode(ModeError500)
	if a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "5", "")); a.Status != 500 {
		t.Errorf("500: %+v", a)
	}
	s.SetMode(ModeOK)
	s.FailNext("chat.postMessage", "is_archived", 1)
	if a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "6", "")); a.Error != "is_archived" {
		t.Errorf("FailNext: %+v", a)
	}
	if a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "7", "")); !a.OK {
		t.Errorf("after FailNext: %+v", a)
	}
}

func TestHang(t *testing.T) {
	s := start(t)
	s.SetMode(ModeHang)
	ctx := t.Context()

	// A client that gives up is recorded as gone.
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(cctx, http.MethodPost, s.URL+"chat.postMessage", strings.NewReader(post("C0GENERAL1", "x", "").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err := http.DefaultClient.Do(req)
		done <- err
	}()
	if _, err := s.WaitAttempts(ctx, "chat.postMessage", 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("hung request answered")
	}
	if _, err := waitAttempt(ctx, s, func(a Attempt) bool { return a.Error == "client_gone" }); err != nil {
		t.Fatal(err)
	}

	// Changing the mode releases a held request.
	go func() {
		a := call(t, ctx, s, "chat.postMessage", post("C0GENERAL1", "released", ""))
		if !a.OK {
			done <- fmt.Errorf("%+v", a)
		}
		done <- nil
	}()
	if _, err := s.WaitAttempts(ctx, "chat.postMessage", 2); err != nil {
		t.Fatal(err)
	}
	s.SetMode(ModeOK)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if posts, err := s.WaitPosts(ctx, 1); err != nil || posts[0].Text != "released" {
		t.Fatal(posts, err)
	}

	// Close returns while a request hangs, and the request fails.
	s.SetMode(ModeHang)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"chat.postMessage", strings.NewReader(post("C0GENERAL1", "x", "").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, err := http.DefaultClient.Do(req)
		done <- err
	}()
	if _, err := s.WaitAttempts(ctx, "chat.postMessage", 3); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := <-done; err == nil {
		t.Error("request answered after Close")
	}
	wctx, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitPosts(wctx, 5); err == nil {
		t.Error("WaitPosts returned without posts")
	}
}

func waitAttempt(ctx context.Context, s *Server, ok func(Attempt) bool) (Attempt, error) {
	for {
		s.mu.Lock()
		as := s.attemptsLocked("")
		ch := s.changed
		s.mu.Unlock()
		for _, a := range as {
			if ok(a) {
				return a, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Attempt{}, ctx.Err()
		}
	}
}

func TestListAndAuth(t *testing.T) {
	s := start(t)
	for i := range 4 {
		s.AddChannel(fmt.Sprintf("C0CHAN000%d", i), fmt.Sprint("chan", i), i%2 == 0)
	}
	s.SetMember("C0CHAN0001", true)
	ctx := t.Context()
	var names []string
	cursor := ""
	for {
		a := call(t, ctx, s, "conversations.list", url.Values{"token": {"xoxb-good"}, "cursor": {cursor}, "limit": {"200"}})
		if !a.OK || len(a.Channels) > 2 {
			t.Fatalf("%+v", a)
		}
		for _, c := range a.Channels {
			names = append(names, fmt.Sprint(c.Name, c.IsMember))
		}
		if cursor = a.Meta.NextCursor; cursor == "" {
			break
		}
	}
	if got := strings.Join(names, " "); got != "generaltrue chan0true chan1true chan2true chan3false" {
		t.Errorf("channels: %s", got)
	}
	if a := call(t, ctx, s, "auth.test", url.Values{"token": {"xoxb-good"}}); !a.OK {
		t.Errorf("auth.test: %+v", a)
	}
	s.RevokeToken("xoxb-good")
	if a := call(t, ctx, s, "auth.test", url.Values{"token": {"xoxb-good"}}); a.Error != "token_revoked" {
		t.Errorf("auth.test revoked: %+v", a)
	}
	if a := call(t, ctx, s, "conversations.list", url.Values{"token": {"xoxb-nope"}}); a.Error != "invalid_auth" {
		t.Errorf("list bad token: %+v", a)
	}
}

func TestOAuthBasicAuth(t *testing.T) {
	s := start(t)
	s.SetClientCredentials("cid", "secret")
	s.AddOAuthCode("c1", "xoxb-new", "T1", "Team", "U1")
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"oauth.v2.access", strings.NewReader("code=c1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cid", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		OK    bool   `json:"ok"`
		Token string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || !a.OK || a.Token != "xoxb-new" {
		t.Errorf("%+v %v", a, err)
	}
}
