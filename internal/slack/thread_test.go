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
		apply(t, &th, l)
	}
	return &th
}

// apply moves th by the event line as delivery does.
func apply(t *testing.T, th *threads.Thread, line string) {
	t.Helper()
	e, err := event.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	spec := threads.Spec{Approval: th.Approval, By: "x", Window: th.Window}
	*th = threads.Decide(th, threads.Input{Channel: th.Channel, Spec: spec, Key: th.Key, SlackChannel: th.SlackChannel,
		Event: &e, Line: []byte(line), Now: when}).Thread
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
	apply(t, th, `{"action":"deploy_approval_request.approve","expires_at":"2026-03-20T01:15:00Z","resource":"42","status":"success","ts":"2026-03-20T01:05:00Z","user_email":"alice@example.com","user_name":"Alice"}`)
	apply(t, th, `{"action":"deploy_approval_request.extend","expires_at":"2026-03-20T03:00:00Z","resource":"42","status":"success","ts":"2026-03-20T01:10:00Z","user_email":"carol@example.com"}`)
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

	apply(t, th, `{"action":"deploy_approval_request.reject","resource":"42","status":"success","user_name":"Dan"}`)
	if m := Parent(th); !strings.Contains(m.Text, "42: rejected by Dan") {
		t.Errorf("rejected: %s", m.Text)
	}
}

// An expired request's heading says when it expired and who had approved
// it; the approval's end is that same moment, so it is not said twice.
func TestParentOfAnExpiredRequestSaysItsEndOnce(t *testing.T) {
	th := newThread(t, threads.Spec{Approval: true},
		`{"action":"deploy_approval_request.create","resource":"42","status":"success","ts":"2026-03-20T01:00:00Z","user_email":"bob@example.com"}`,
		`{"action":"deploy_approval_request.approve","expires_at":"2026-03-20T02:00:00Z","resource":"42","status":"success","ts":"2026-03-20T01:05:00Z","user_email":"alice@example.com"}`,
		`{"action":"deploy_approval_request.expired","resource":"42","status":"success","ts":"2026-03-20T02:00:00Z"}`)
	m := Parent(th)
	want := "Deploy approval request 42: expired at 2026-03-20T02:00:00Z (approved by alice@example.com)\n"
	if !strings.Contains(m.Text, want) {
		t.Errorf("expired parent lacks %q:\n%s", want, m.Text)
	}
	if strings.Contains(m.Text, "until") {
		t.Errorf("expired parent says until:\n%s", m.Text)
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

// What did not apply is said, in the reply and (for a thread opened by
// it) in the parent; escaped, and never a ping.
func TestNotAppliedIsSaid(t *testing.T) {
	denied := `{"action":"deploy_approval_request.approve","details":"{\"git_branch\":\"main\"}","resource":"77","status":"denied <!channel>","ts":"2026-03-20T01:05:00Z","user_email":"mallory@example.com"}`
	e, err := event.Parse([]byte(denied))
	if err != nil {
		t.Fatal(err)
	}
	note := "its status is denied <!channel>; only a successful event changes the request"
	for _, m := range []Message{
		func() Message { m, _ := PackReply([]event.Event{e}, []string{note}); return m }(),
		func() Message { m, _ := PackReply([]event.Event{e, e}, []string{"", note}); return m }(),
	} {
		if !strings.Contains(m.Text, "⚠️ Not applied: its status is denied &lt;!channel&gt;") || !strings.Contains(strings.Join(texts(t, m), "\n"), "⚠️ *Not applied:* its status") {
			t.Errorf("the reply does not say it was not applied:\n%s", m.Text)
		}
		assertEscaped(t, "reply", m.Text)
		checkLimits(t, m)
	}
	if m, _ := PackReply([]event.Event{e}, nil); strings.Contains(m.Text, "Not applied") {
		t.Errorf("a reply without a note says not applied:\n%s", m.Text)
	}

	th := newThread(t, threads.Spec{Approval: true}, denied)
	m := Parent(th)
	for _, want := range []string{"Deploy approval request 77: state unknown", "⚠️ Not applied: its status is denied"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the parent opened by a denied approve lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "Branch") {
		t.Errorf("the parent shows a branch from an event that did not apply:\n%s", m.Text)
	}
	apply(t, th, `{"action":"deploy_approval_request.create","details":"{\"git_branch\":\"feature/x\",\"rack\":\"prod-eu\"}","resource":"77","status":"success","user_email":"bob@example.com"}`)
	if m := Parent(th); !strings.Contains(m.Text, "77: pending approval") || !strings.Contains(m.Text, "Rack: prod-eu") || !strings.Contains(m.Text, "Branch: feature/x") {
		t.Errorf("the create did not fix the request:\n%s", m.Text)
	}
}
