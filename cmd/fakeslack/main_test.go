package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

func TestWatchPrintsMessagesAndRefusals(t *testing.T) {
	s, err := fakeslack.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.AddToken("xoxb-t")
	s.AddChannel("C0SECURITY1", "security", true)
	s.AddChannel("C0QUIET0001", "quiet", false)
	names := map[string]string{"C0SECURITY1": "#security", "C0QUIET0001": "#quiet"}
	ctx, cancel := context.WithCancel(context.Background())
	var out testenv.SyncBuffer
	done := make(chan struct{})
	go func() { watch(ctx, s, names, &out); close(done) }()

	post := func(channel, text string) {
		resp, err := http.PostForm(s.URL+"chat.postMessage", url.Values{"token": {"xoxb-t"}, "channel": {channel}, "text": {text}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post("#security", "🚨 login.oauth_failed\nUser: &lt;!channel&gt; &amp; co")
	post("#quiet", "hello")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "not_in_channel") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	got := out.String()
	for _, want := range []string{"── #security ", "\n🚨 login.oauth_failed\nUser: <!channel> & co\n\n", "✗ chat.postMessage to #quiet: not_in_channel (HTTP 200)"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
