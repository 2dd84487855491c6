package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// call makes one Web API request and returns Slack's answer.
func call(t *testing.T, base, method string, params url.Values) map[string]any {
	t.Helper()
	resp, err := http.PostForm(base+method, params)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	return answer
}

// watching starts watch on a fake with #security (the bot in it) and
// #quiet (the bot not in it); stop ends it and returns what it printed.
func watching(t *testing.T) (s *fakeslack.Server, stop func() string) {
	s, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	s.AddToken("xoxb-t")
	s.AddChannel("C0SECURITY1", "security", true)
	s.AddChannel("C0QUIET0001", "quiet", false)
	names := map[string]string{"C0SECURITY1": "#security", "C0QUIET0001": "#quiet"}
	ctx, cancel := context.WithCancel(context.Background())
	var out testenv.SyncBuffer
	done := make(chan struct{})
	go func() { watch(ctx, s, names, &out); close(done) }()
	return s, func() string {
		cancel()
		<-done
		return out.String()
	}
}

func TestWatchPrintsMessagesAndRefusals(t *testing.T) {
	s, stop := watching(t)
	post := func(channel, text string) {
		call(t, s.URL, "chat.postMessage", url.Values{"token": {"xoxb-t"}, "channel": {channel}, "text": {text}})
	}
	post("#security", "🚨 login.oauth_failed\nUser: &lt;!channel&gt; &amp; co")
	post("#quiet", "hello")
	testenv.Eventually(t, 10*time.Second, "the refusal", func() bool { return len(s.Attempts("chat.postMessage")) == 2 })
	got := stop()
	for _, want := range []string{"── #security ", "\n🚨 login.oauth_failed\nUser: <!channel> & co\n\n", "✗ chat.postMessage to #quiet: not_in_channel (HTTP 200)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

var (
	clock = regexp.MustCompile(`\d\d:\d\d:\d\d`)
	fill  = regexp.MustCompile(` ─+\n`)
)

// A thread reads as a thread: each reply indented under a line that names
// its parent, each edit of the parent marked as an edit with the text it
// now reads, in the order the fake took them.
func TestWatchShowsThreadsAndEdits(t *testing.T) {
	s, stop := watching(t)
	tok := url.Values{"token": {"xoxb-t"}, "channel": {"#security"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range tok {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	parent := call(t, s.URL, "chat.postMessage", with("text", "🧵 1 event with ip_address 203.0.113.9\nlogin.oauth_failed"))
	ts, channel := parent["ts"].(string), parent["channel"].(string)
	call(t, s.URL, "chat.update", with("channel", channel, "ts", ts, "text", "🧵 2 events with ip_address 203.0.113.9\nlogin.oauth_failed"))
	reply := call(t, s.URL, "chat.postMessage", with("thread_ts", ts, "text", "login.oauth_failed\nUser: eve@example.net"))
	call(t, s.URL, "chat.postMessage", with("text", "unrelated"))
	call(t, s.URL, "chat.postMessage", with("thread_ts", reply["ts"].(string), "text", "a reply to a reply\nis in the parent's thread", "reply_broadcast", "true"))
	call(t, s.URL, "chat.update", with("channel", channel, "ts", reply["ts"].(string), "text", "login.oauth_failed\nUser: eve@example.net (edited)"))
	testenv.Eventually(t, 10*time.Second, "all six requests answered", func() bool {
		as := s.Attempts("")
		return len(as) == 6 && finished(as, 0) == 6
	})
	got := fill.ReplaceAllString(clock.ReplaceAllString(stop(), "T"), " ───\n")
	want := "── #security T ───\n" +
		"🧵 1 event with ip_address 203.0.113.9\nlogin.oauth_failed\n\n" +
		"── #security T ✎ edit of T “🧵 1 event with ip_address 203.0.113.9” ───\n" +
		"🧵 2 events with ip_address 203.0.113.9\nlogin.oauth_failed\n\n" +
		"    ↳ reply T in #security, in the thread of T “🧵 1 event with ip_address 203.0.113.9”\n" +
		"    │ login.oauth_failed\n    │ User: eve@example.net\n\n" +
		"── #security T ───\nunrelated\n\n" +
		"    ↳ reply T in #security, in the thread of T “🧵 1 event with ip_address 203.0.113.9” (also sent to the channel)\n" +
		"    │ a reply to a reply\n    │ is in the parent's thread\n\n" +
		"    ✎ edit T in #security of the reply T “login.oauth_failed”\n" +
		"    │ login.oauth_failed\n    │ User: eve@example.net (edited)\n\n"
	if got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

// With -config, the fake serves where the config's slack.api_url points
// and has every channel the config names, the bot in each: a rule for
// #alerts works locally without -channels, which still adds more.
func TestConfigGivesTheChannelsAndTheAddress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.yaml")
	cfg := `slack:
  api_url: http://127.0.0.1:0/api/
channels:
  - name: alerts
    slack_channel: "#alerts"
    actions: [login.oauth_failed]
  - name: security
    slack_channel: security
    actions: [login.complete]
  - name: also-security
    slack_channel: "#Security"
    actions: [mfa_method.enroll]
  - name: ops
    slack_channel: C0OPS000001
    actions: [release.promote]
`
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out testenv.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-config", path, "-channels", "extra, #more"}, &out) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var base string
	testenv.Eventually(t, 10*time.Second, "the banner", func() bool {
		m := regexp.MustCompile(`slack.api_url: +(\S+)`).FindStringSubmatch(out.String())
		if m != nil {
			base = m[1]
		}
		return strings.Contains(out.String(), "waiting for messages")
	})
	if !strings.HasPrefix(base, "http://127.0.0.1:") || strings.HasSuffix(base, ":0/api/") {
		t.Fatalf("serves at %q:\n%s", base, out.String())
	}
	if !strings.Contains(out.String(), "channels:            #alerts #security #c0ops000001 #deploy-approvals #extra #more (the bot is in each)") {
		t.Errorf("banner:\n%s", out.String())
	}
	list := call(t, base, "conversations.list", url.Values{"token": {"xoxb-local-fake"}, "limit": {"100"}})
	var listed []string
	for list != nil {
		for _, c := range list["channels"].([]any) {
			c := c.(map[string]any)
			if c["is_member"] != true {
				t.Errorf("the bot is not in %v", c)
			}
			listed = append(listed, c["id"].(string)+" "+c["name"].(string))
		}
		next, _ := list["response_metadata"].(map[string]any)["next_cursor"].(string)
		list = nil
		if next != "" {
			list = call(t, base, "conversations.list", url.Values{"token": {"xoxb-local-fake"}, "cursor": {next}})
		}
	}
	want := "C0LOCAL0001 alerts, C0SECURITY1 security, C0OPS000001 c0ops000001, C0DEPLOY001 deploy-approvals, C0LOCAL0005 extra, C0LOCAL0006 more"
	if strings.Join(listed, ", ") != want {
		t.Errorf("conversations.list: %s\nwant %s", strings.Join(listed, ", "), want)
	}
	if a := call(t, base, "chat.postMessage", url.Values{"token": {"xoxb-local-fake"}, "channel": {"#alerts"}, "text": {"hello"}}); a["ok"] != true {
		t.Errorf("post to #alerts: %v", a)
	}
}

func TestConfigMustPointAtTheFake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prod.yaml")
	if err := os.WriteFile(path, []byte("state_dir: /var/lib/auditfwd\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"-config", path}, &testenv.SyncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "slack.api_url is https://slack.com/api/, not the fake's") {
		t.Errorf("err = %v", err)
	}
	// -listen says where, whatever the config's URL.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, []string{"-config", path, "-listen", "127.0.0.1:0"}, &testenv.SyncBuffer{}); err != nil {
		t.Errorf("with -listen: %v", err)
	}
}
