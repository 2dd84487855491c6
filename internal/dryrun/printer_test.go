package dryrun

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/threads"
)

func TestDryRunSaysParentReplyOrEdit(t *testing.T) {
	var out bytes.Buffer
	p := newPrinter(&out, nil, writeJSON)
	alerts := rules.Destination{Channel: "deploy_approval_alerts", SlackChannel: "#deploy", Alert: true, Thread: threads.Spec{Approval: true}.String()}
	plain := rules.Destination{Channel: "security", SlackChannel: "#security"}
	for _, c := range []struct {
		d    rules.Destination
		line string
	}{
		{alerts, `{"action":"deploy_approval_request.create","resource":"42","user_email":"bob@example.com"}`},
		{plain, `{"action":"login.complete","resource":"evt-1"}`},
		{alerts, `{"action":"deploy_approval_request.approve","resource":"42","status":"success","user_email":"alice@example.com"}`},
		{alerts, `{"action":"deploy_approval_request.create","resource":"43"}`},
		{alerts, `{"action":"release.promote","resource":"app"}`},
	} {
		if _, err := p.Enqueue(c.d, []byte(c.line), logpos.Position{}); err != nil {
			t.Fatal(err)
		}
	}
	p.Sync()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			Channel   string `json:"channel"`
			Thread    string `json:"thread"`
			ThreadKey string `json:"thread_key"`
			Message   struct {
				Text string `json:"text"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if m.Message.Text == "" || m.Channel == "" {
			t.Fatalf("a line without its message: %s", line)
		}
		got = append(got, m.Channel+" "+m.Thread+" "+m.ThreadKey)
	}
	want := []string{
		"deploy_approval_alerts parent deploy_approval_request=42",
		"security  ",
		"deploy_approval_alerts edit deploy_approval_request=42",
		"deploy_approval_alerts reply deploy_approval_request=42",
		"deploy_approval_alerts parent deploy_approval_request=43",
		"deploy_approval_alerts  ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("dry run lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(out.String(), "approved by alice@example.com") {
		t.Errorf("the edit does not show the approval:\n%s", out.String())
	}
}
