package slack

import (
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/threads"
)

func newThread(t *testing.T, s threads.Spec, lines ...string) *threads.Thread {
	t.Helper()
	var th threads.Thread
	for i, l := range lines {
		e, err := event.Parse([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			th = threads.New("c", s.Key(&e), s, &e, []byte(l), when)
			continue
		}
		th.Apply(&e, when)
	}
	return &th
}

func TestParentOfARequestTellsItsState(t *testing.T) {
	th := newThread(t, threads.Spec{Approval: true},
		`{"action":"deploy_approval_request.create","details":"{\"git_branch\":\"main\",\"git_commit_hash\":\"abc123\",\"message\":\"Ship <!channel>\"}","resource":"42","status":"success","ts":"2026-03-20T01:00:00Z","user_email":"bob@example.com","user_name":"Bob","marker":"evt-0000001"}`)
	m := Parent(th)
	for _, want := range []string{"Deploy approval request 42: pending approval", "Requested by: Bob (bob@example.com)", "Branch: main", "Commit: abc123", "Message: Ship &lt;!channel&gt;", "evt-0000001"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("pending parent lacks %q:\n%s", want, m.Text)
		}
	}
	e1, _ := event.Parse([]byte(`{"action":"deploy_approval_request.approve","expires_at":"2026-03-20T01:15:00Z","resource":"42","status":"success","ts":"2026-03-20T01:05:00Z","user_email":"alice@example.com","user_name":"Alice"}`))
	th.Apply(&e1, when)
	e2, _ := event.Parse([]byte(`{"action":"deploy_approval_request.extend","expires_at":"2026-03-20T03:00:00Z","resource":"42","status":"success","ts":"2026-03-20T01:10:00Z","user_email":"carol@example.com"}`))
	th.Apply(&e2, when)
	m = Parent(th)
	want := "Deploy approval request 42: approved by Alice (alice@example.com) at 2026-03-20T01:05:00Z, extended until 2026-03-20T03:00:00Z by carol@example.com"
	if !strings.Contains(m.Text, want) {
		t.Errorf("parent text lacks %q:\n%s", want, m.Text)
	}
	all := strings.Join(texts(t, m), "\n")
	for _, want := range []string{"✅ *Approved* by Alice (alice@example.com)", "extended until <!date^", "3 events in this thread", "evt-0000001"} {
		if !strings.Contains(all, want) {
			t.Errorf("parent blocks lack %q:\n%s", want, all)
		}
	}
	assertEscaped(t, "parent", m.Text)
	for _, s := range texts(t, m) {
		assertEscaped(t, "parent block", s)
	}
	checkLimits(t, m)

	e3, _ := event.Parse([]byte(`{"action":"deploy_approval_request.reject","resource":"42","status":"success","user_name":"Dan"}`))
	th.Apply(&e3, when)
	if m := Parent(th); !strings.Contains(m.Text, "42: rejected by Dan") {
		t.Errorf("rejected: %s", m.Text)
	}
}

func TestParentOfAThreadByCountsAndShowsTheLatest(t *testing.T) {
	lines := []string{`{"action":"login.oauth_failed","ip_address":"203.0.113.9","status":"failed","ts":"2026-03-20T01:00:00Z","resource":"evt-0000001"}`}
	for i := 0; i < 19; i++ {
		lines = append(lines, `{"action":"login.user_not_authorized","ip_address":"203.0.113.9","status":"denied","ts":"2026-03-20T01:05:00Z"}`)
	}
	m := Parent(newThread(t, threads.Spec{By: "ip_address", Window: time.Hour}, lines...))
	for _, want := range []string{"🧵 20 events with ip_address 203.0.113.9", "Latest: login.user_not_authorized (denied) at 2026-03-20T01:05:00Z", "evt-0000001"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("parent lacks %q:\n%s", want, m.Text)
		}
	}
	checkLimits(t, m)
}

func TestParentFitsChatUpdate(t *testing.T) {
	huge := strings.Repeat("<é>", 3000)
	th := newThread(t, threads.Spec{Approval: true},
		`{"action":"deploy_approval_request.create","resource":"42","message":"`+huge+`","a":"`+huge+`","b":"`+huge+`","user_name":"`+huge+`"}`)
	m := Parent(th)
	if n := len([]rune(m.Text)); n > 4000 {
		t.Fatalf("text of %d characters: chat.update refuses it", n)
	}
	checkLimits(t, m)
	fs, c := newFake(t)
	p, err := c.Post(t.Context(), "C0GENERAL1", Message{Text: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Update(t.Context(), p.Channel, p.TS, m); err != nil {
		t.Fatalf("update: %v", err)
	}
	if got, _ := fs.Message("C0GENERAL1", p.TS); got.Edits != 1 {
		t.Fatal("not edited")
	}
}

func TestReplyAnswerCarriesTheThread(t *testing.T) {
	fs, c := newFake(t)
	p, err := c.Post(t.Context(), "C0GENERAL1", Message{Text: "parent"})
	if err != nil || p.ThreadTS != "" {
		t.Fatalf("post: %+v %v", p, err)
	}
	r, err := c.Reply(t.Context(), "C0GENERAL1", p.TS, Message{Text: "reply"})
	if err != nil || r.ThreadTS != p.TS {
		t.Fatalf("reply: %+v %v", r, err)
	}
	fs.DeleteMessage("C0GENERAL1", p.TS)
	fs.DeleteMessage("C0GENERAL1", r.TS)
	p2, _ := c.Post(t.Context(), "C0GENERAL1", Message{Text: "parent 2"})
	fs.DeleteMessage("C0GENERAL1", p2.TS)
	gone, err := c.Reply(t.Context(), "C0GENERAL1", p2.TS, Message{Text: "to the gone"})
	if err != nil || gone.ThreadTS != "" {
		t.Fatalf("reply to a gone parent: %+v %v", gone, err)
	}
	_, err = c.Update(t.Context(), "C0GENERAL1", p2.TS, Message{Text: "x"})
	if _, reason, _ := Classify(err); reason != "message_not_found" {
		t.Fatalf("update of a gone parent: %v", err)
	}
}
