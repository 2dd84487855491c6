package threads

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

var t0 = time.Date(2026, 3, 20, 1, 0, 0, 0, time.UTC)

// failed is a thread_by event from ip at t0+min.
func failed(ip string, min int) string {
	return fmt.Sprintf(`{"action":"login.oauth_failed","ip_address":%q,"status":"failed","ts":%q}`, ip, t0.Add(time.Duration(min)*time.Minute).Format(time.RFC3339))
}

// request is a deploy approval request's event.
func request(verb, status, who, details string) string {
	return fmt.Sprintf(`{"action":"deploy_approval_request.%s","details":%q,"resource":"77","resource_type":"deploy_approval_request","status":%q,"ts":%q,"user_email":%q}`,
		verb, details, status, t0.Format(time.RFC3339), who)
}

// known is the thread of spec that line started, posted in C1 as ts 1.1.
func known(t *testing.T, spec Spec, line string, change func(*Thread)) *Thread {
	t.Helper()
	ev := parse(t, line)
	th := New("ch", spec.Key(ev), spec, ev, []byte(line), t0)
	th.SlackChannel, th.TS = "C1", "1.1"
	if change != nil {
		change(&th)
	}
	return &th
}

func TestDecide(t *testing.T) {
	byIP := Spec{By: "ip_address", Window: time.Hour}
	approval := Spec{Approval: true}
	ping := []string{"here", "S0123"}
	create := request("create", "success", "bob@example.com", `{"git_branch":"feature/x"}`)
	for _, c := range []struct {
		name       string
		spec       Spec
		cur        func(t *testing.T) *Thread
		line       string
		slack      string // the Slack channel the event goes to; "C1" when ""
		now        time.Time
		parentGone bool

		action     Action
		ping       []string
		edit       bool
		count      int    // the thread's count after the event
		ts         string // the thread's parent ts after the event ("" for a new parent)
		notApplied string
	}{
		{name: "first event: parent", spec: byIP, line: failed("10.0.0.1", 0),
			action: Start, ping: ping, count: 1},
		{name: "same value within the window: reply, parent edited", spec: byIP,
			cur: func(t *testing.T) *Thread { return known(t, byIP, failed("10.0.0.1", 0), nil) }, line: failed("10.0.0.1", 59),
			action: Reply, edit: true, count: 2, ts: "1.1"},
		{name: "past the window: a new thread", spec: byIP,
			cur: func(t *testing.T) *Thread { return known(t, byIP, failed("10.0.0.1", 0), nil) }, line: failed("10.0.0.1", 61),
			action: Start, ping: ping, count: 1},
		{name: "forgotten (expired) thread: a new one", spec: byIP, now: t0.Add(2 * time.Hour),
			cur: func(t *testing.T) *Thread { return known(t, byIP, failed("10.0.0.1", 0), nil) }, line: failed("10.0.0.1", 30),
			action: Start, ping: ping, count: 1},
		{name: "another Slack channel: a new thread", spec: byIP, slack: "C2",
			cur: func(t *testing.T) *Thread { return known(t, byIP, failed("10.0.0.1", 0), nil) }, line: failed("10.0.0.1", 1),
			action: Start, ping: ping, count: 1},
		{name: "parent refuses edits: reply alone", spec: byIP,
			cur: func(t *testing.T) *Thread {
				return known(t, byIP, failed("10.0.0.1", 0), func(th *Thread) { th.NoEdit = "edit_window_closed" })
			}, line: failed("10.0.0.1", 1),
			action: Reply, count: 2, ts: "1.1"},
		{name: "parent gone: a new parent, nobody pinged again", spec: byIP, parentGone: true,
			cur: func(t *testing.T) *Thread { return known(t, byIP, failed("10.0.0.1", 0), nil) }, line: failed("10.0.0.1", 1),
			action: Start, count: 1},
		{name: "request: a later event replies, however late", spec: approval, now: t0.Add(6 * 24 * time.Hour),
			cur: func(t *testing.T) *Thread { return known(t, approval, create, nil) }, line: request("approve", "success", "alice@example.com", `{}`),
			action: Reply, edit: true, count: 2, ts: "1.1"},
		{name: "request: an event that does not apply replies, parent left as it was", spec: approval,
			cur: func(t *testing.T) *Thread { return known(t, approval, create, nil) }, line: request("approve", "denied", "mallory@example.com", `{}`),
			action: Reply, count: 2, ts: "1.1", notApplied: "its status is denied; only a successful event changes the request"},
		{name: "request: parent gone, the state carries over", spec: approval, parentGone: true,
			cur: func(t *testing.T) *Thread { return known(t, approval, create, nil) }, line: request("approve", "success", "alice@example.com", `{}`),
			action: Start, count: 1},
		{name: "request: the alert moved to another Slack channel, the state carries over", spec: approval, slack: "C2",
			cur: func(t *testing.T) *Thread { return known(t, approval, create, nil) }, line: request("approve", "success", "alice@example.com", `{}`),
			action: Start, ping: ping, count: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = t0.Add(time.Minute)
			}
			var cur *Thread
			var before Thread
			if c.cur != nil {
				cur = c.cur(t)
				before = cur.Clone()
			}
			ev := parse(t, c.line)
			in := Input{Channel: "ch", Spec: c.spec, Key: c.spec.Key(ev), SlackChannel: cmp.Or(c.slack, "C1"), Event: ev,
				Line: []byte(c.line), Pos: logpos.Position{Gen: 1, Offset: 500}, Mention: ping, Now: now, ParentGone: c.parentGone}
			d := Decide(cur, in)
			if d.Action != c.action || !slices.Equal(d.Ping, c.ping) || d.Edit != c.edit || d.Thread.Count != c.count || d.Thread.TS != c.ts || d.NotApplied != c.notApplied {
				t.Fatalf("got %v ping %v edit %v count %d ts %q not applied %q; want %v ping %v edit %v count %d ts %q not applied %q",
					d.Action, d.Ping, d.Edit, d.Thread.Count, d.Thread.TS, d.NotApplied, c.action, c.ping, c.edit, c.count, c.ts, c.notApplied)
			}
			if d.Thread.SlackChannel != in.SlackChannel || d.Thread.Key != in.Key || !d.Thread.Applied(in.Pos, in.Line) {
				t.Errorf("the thread does not record where it is and what it applied: %+v", d.Thread)
			}
			if cur != nil && !reflect.DeepEqual(*cur, before) {
				t.Errorf("Decide changed the table's thread:\n%+v\nwas\n%+v", *cur, before)
			}
			if c.spec.Approval && d.Action == Start && (d.Thread.Request == nil || d.Thread.Request.Branch != "feature/x") {
				t.Errorf("the request did not carry over to the new parent: %+v", d.Thread.Request)
			}
		})
	}
}

// Decide never needs more than its arguments: the same input, the same
// decision.
func TestDecideIsAFunctionOfItsArguments(t *testing.T) {
	spec := Spec{By: "ip_address", Window: time.Hour}
	line := failed("10.0.0.9", 3)
	ev, _ := event.Parse([]byte(line))
	cur := known(t, spec, failed("10.0.0.9", 0), nil)
	in := Input{Channel: "ch", Spec: spec, Key: spec.Key(&ev), SlackChannel: "C1", Event: &ev, Line: []byte(line), Now: t0}
	a, b := Decide(cur, in), Decide(cur, in)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two decisions for one input:\n%+v\n%+v", a, b)
	}
}
