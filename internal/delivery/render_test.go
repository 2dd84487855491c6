package delivery

import (
	"fmt"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/testenv"
	"github.com/auditfwd/auditfwd/internal/token"
)

// A message that Slack refuses and then takes is counted once, when it goes
// through; a reload's Renderer lays out the next message.
func TestRedactionsCountedOnceSlackTakesTheMessage(t *testing.T) {
	f := newFixture(t, false)
	cfg, err := config.Parse([]byte("redact:\n  fields: [command]\nchannels:\n  - name: security\n    slack_channel: '#security'\n    actions: ['*']\n    template: {title: 'T {{.resource}}'}\n"), "c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(cfg, f.m, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetRenderer(r)
	pass := "pw" + "9Zq" + "-x81"
	enqueue := func(n int) {
		f.pos += 100
		line := fmt.Sprintf(`{"action":"process.exec","command":"mysql -p x","details":"{\"url\":\"mysql://root:%s@db\"}","resource":"evt-%03d"}`, pass, n)
		d := rules.Destination{Channel: "security", SlackChannel: "#security", Template: "security"}
		if _, err := f.svc.Enqueue(d, []byte(line), logpos.Position{Gen: 1, Offset: f.pos}); err != nil {
			t.Fatal(err)
		}
		f.svc.Publish()
		if err := f.svc.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	enqueue(1)
	f.fs.FailNext("chat.postMessage", "service_unavailable", 2)
	f.conn.Set(token.Token{AccessToken: tok})
	p := f.waitPosts(1)[0]
	if all := p.AllText(); strings.Contains(all, pass) || strings.Contains(all, "mysql -p") || !strings.HasPrefix(p.Text, "📝 T evt-001") {
		t.Fatalf("posted: %s", all)
	}
	// Counted after Slack's answer reaches the sender, just after the fake recorded the post.
	testenv.Eventually(t, 10*time.Second, "the redactions counted", func() bool {
		return redactions(f, "field") == 1
	})
	if got := redactions(f, "url-password"); got != 1 {
		t.Errorf("url-password counted %v times after 2 refusals and 1 post, want 1", got)
	}
	if len(f.fs.Attempts("chat.postMessage")) != 3 {
		t.Errorf("attempts: %d", len(f.fs.Attempts("chat.postMessage")))
	}

	// A reload without redact.fields and templates: the next message shows
	// the command and the default heading.
	cfg2, _ := config.Parse([]byte("channels:\n  - name: security\n    slack_channel: '#security'\n    actions: ['*']\n"), "c.yaml")
	r2, _ := NewRenderer(cfg2, f.m, nil)
	f.svc.SetRenderer(r2)
	enqueue(2)
	p = f.waitPosts(2)[1]
	if !strings.HasPrefix(p.Text, "📝 process.exec") || !strings.Contains(p.Text, "command: mysql -p x") || strings.Contains(p.AllText(), pass) {
		t.Errorf("after the reload: %s", p.Text)
	}
	testenv.Eventually(t, 10*time.Second, "the second redaction counted", func() bool {
		return redactions(f, "url-password") == 2
	})
}

func redactions(f *fixture, detector string) float64 {
	var m dto.Metric
	if err := f.m.Redactions.WithLabelValues(detector).Write(&m); err != nil {
		f.t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
