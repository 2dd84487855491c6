package threads

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The whole table: every state, every step, every status.
func TestTransition(t *testing.T) {
	// From each state (rows), where a successful event of each step
	// (columns) leads; "-" does not apply.
	const table = `
	         create   approve  reject   extend   expire
	unknown  pending  approved rejected approved expired
	pending  -        approved rejected -        -
	approved -        -        rejected approved expired
	rejected -        -        -        -        -
	expired  -        -        -        -        -`
	rows := strings.Split(strings.TrimSpace(table), "\n")
	steps := strings.Fields(rows[0])
	n := 0
	for _, row := range rows[1:] {
		cells := strings.Fields(row)
		from := cells[0]
		if from == "unknown" {
			from = Unknown
		}
		for i, step := range steps {
			for _, status := range []string{"success", "denied", "failed", "error", ""} {
				next, why := transition(from, StepOf(LifecyclePrefix+step), status)
				want := cells[i+1]
				if status != "success" {
					want = "-"
				}
				n++
				switch {
				case want == "-" && (why == "" || next != from):
					t.Errorf("%s + %s (%q) = %q, %q; want not applied", cells[0], step, status, next, why)
				case want != "-" && (why != "" || next != want):
					t.Errorf("%s + %s (%q) = %q, %q; want %s", cells[0], step, status, next, why, want)
				}
			}
		}
		if next, why := transition(from, StepOf(LifecyclePrefix+"deployed"), "success"); why == "" || next != from {
			t.Errorf("an unknown step applied to %s: %q", cells[0], next)
		}
	}
	for _, alias := range []string{"created", "approved", "rejected", "extended", "expired"} {
		if StepOf(LifecyclePrefix+alias) == "" {
			t.Errorf("%s is not read as a step", alias)
		}
	}
	t.Logf("%d transitions checked", n)
}

// detailsOf is a details string as the gateway writes it.
func detailsOf(kv ...string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// The probe of issue 17: a denied approve with another branch and message,
// then the requester's own successful extend of the still-pending request.
// Neither changes the parent; the request keeps its own fields.
func TestRequestCannotBeMadeToLie(t *testing.T) {
	approval := Spec{Approval: true}
	create := request("create", "success", "mallory@example.com",
		detailsOf("git_branch", "feature/exfil", "git_commit_hash", "deadbee", "message", "Add exporter", "app", "billing", "rack", "prod-eu"))
	th := known(t, approval, create, nil)
	want := Request{ID: "77", Fixed: true, Requester: "mallory@example.com", App: "billing", Rack: "prod-eu", Branch: "feature/exfil",
		Commit: "deadbee", Message: "Add exporter", State: Pending, At: t0, AtRaw: t0.Format("2006-01-02T15:04:05Z")}
	if *th.Request != want {
		t.Fatalf("after create:\n%+v\nwant\n%+v", *th.Request, want)
	}
	for _, c := range []struct{ line, why string }{
		{request("approve", "denied", "mallory@example.com", detailsOf("git_branch", "main", "git_commit_hash", "0000000", "message", "Routine dependency bump (reviewed by Alice)")),
			"its status is denied; only a successful event changes the request"},
		{request("extend", "success", "mallory@example.com", detailsOf("expires_at", "2026-03-21T01:00:00Z")),
			"nobody has approved the request"},
		{request("create", "success", "eve@example.com", detailsOf("git_branch", "main")),
			"the request was already opened"},
	} {
		d := Decide(th, Input{Channel: "ch", Spec: approval, Key: th.Key, SlackChannel: "C1", Event: parse(t, c.line), Line: []byte(c.line), Now: t0})
		if d.Action != Reply || d.Edit || d.NotApplied != c.why || len(d.Ping) != 0 {
			t.Fatalf("%s: %v edit %v not applied %q ping %v; want a reply, no edit, %q", c.line, d.Action, d.Edit, d.NotApplied, d.Ping, c.why)
		}
		if *d.Thread.Request != want || d.Thread.Latest != th.Latest {
			t.Fatalf("%s changed what the parent shows:\n%+v", c.line, *d.Thread.Request)
		}
		th = &d.Thread
	}
	if th.Count != 4 {
		t.Fatalf("count %d, want 4 (the replies are in the thread)", th.Count)
	}
	// A real approval applies, and still cannot change what was asked for.
	approve := request("approve", "success", "alice@example.com", detailsOf("git_branch", "main", "expires_at", "2026-03-20T02:00:00Z", "notes", "LGTM"))
	d := Decide(th, Input{Channel: "ch", Spec: approval, Key: th.Key, SlackChannel: "C1", Event: parse(t, approve), Line: []byte(approve), Now: t0})
	r := d.Thread.Request
	if !d.Edit || d.NotApplied != "" || r.State != Approved || r.By != "alice@example.com" || r.Until != "2026-03-20T02:00:00Z" || r.Notes != "LGTM" || r.Branch != "feature/exfil" {
		t.Fatalf("approve: edit %v %q %+v", d.Edit, d.NotApplied, *r)
	}
}

// A thread opened by an event that does not apply knows nothing of the
// request yet: the first event that applies fixes its fields.
func TestThreadOpenedByAnEventThatDoesNotApply(t *testing.T) {
	approval := Spec{Approval: true}
	denied := request("approve", "denied", "mallory@example.com", detailsOf("git_branch", "main", "message", "Routine"))
	d := Decide(nil, Input{Channel: "ch", Spec: approval, Key: "deploy_approval_request=77", SlackChannel: "C1", Event: parse(t, denied), Line: []byte(denied), Now: t0})
	r := d.Thread.Request
	if d.Action != Start || r.State != Unknown || r.Fixed || r.Branch != "" || r.Message != "" || d.Thread.FirstNotApplied == "" || d.NotApplied == "" {
		t.Fatalf("opened by a denied approve: %v %+v %q", d.Action, *r, d.Thread.FirstNotApplied)
	}
	create := request("create", "success", "bob@example.com", detailsOf("git_branch", "feature/x", "message", "Ship it"))
	d = Decide(&d.Thread, Input{Channel: "ch", Spec: approval, Key: "deploy_approval_request=77", SlackChannel: "C1", Event: parse(t, create), Line: []byte(create), Now: t0})
	if r := d.Thread.Request; !d.Edit || r.State != Pending || r.Branch != "feature/x" || r.Requester != "bob@example.com" {
		t.Fatalf("then the create: %+v", *r)
	}
}

// A thread recorded by an older auditfwd (no "fixed") keeps its fields.
func TestOlderRecordsKeepTheirFields(t *testing.T) {
	line := `{"channel":"deploy_approval_alerts","key":"deploy_approval_request=9","ts":"1.1","approval":true,"request":{"id":"9","state":"pending","branch":"feature/old"}}`
	var th Thread
	if err := json.Unmarshal([]byte(line), &th); err != nil {
		t.Fatal(err)
	}
	th.upgrade()
	if !th.Request.Fixed {
		t.Fatal("an older record's fields would be open to the next event")
	}
	_ = fmt.Sprint(th)
}
