package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

var mallory = person{"Mallory Dev", "mallory@example.net"}

// withStatus is line with its status replaced.
func withStatus(line, status string) string {
	return strings.Replace(line, `"status":"success"`, `"status":"`+status+`"`, 1)
}

// The probe of issue 17: request 77 asks for feature/exfil at deadbee; an
// approve with status denied whose details name main and a reassuring
// message, then the requester's own successful extend of the still-pending
// request. Both are replies that say "not applied"; the parent still says
// pending, with the request's own branch, commit and message, unedited.
func TestApprovalParentCannotBeMadeToLie(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Extra: alertsOn})
	d.Start()
	d.Append(lifecycle("create", 77, mallory, 1, map[string]string{
		"git_branch": "feature/exfil", "git_commit_hash": "deadbee", "message": "Add exporter", "app": "billing"}))
	waitEvents(t, s, idDeploy, 1, 2, 20*time.Second)
	d.Append(
		withStatus(lifecycle("approve", 77, mallory, 2, map[string]string{
			"git_branch": "main", "git_commit_hash": "0a1b2c3", "message": "Routine dependency bump (reviewed by Alice)", "expires_at": "2026-03-20T05:00:00Z"}), "denied"),
		lifecycle("extend", 77, mallory, 3, map[string]string{"expires_at": "2026-03-21T01:00:00Z", "git_branch": "main"}),
	)
	waitEvents(t, s, idDeploy, 1, 4, 20*time.Second)
	assertExactlyOnce(t, s, idDeploy, 1, 4)

	parents := parentsOf(s, idDeploy, 77)
	if len(parents) != 1 {
		t.Fatalf("%d parents for request 77, want 1", len(parents))
	}
	parent := parents[0]
	for _, want := range []string{"Deploy approval request 77: pending approval", "Requested by: Mallory Dev (mallory@example.net)",
		"Branch: feature/exfil", "Commit: deadbee", "Message: Add exporter"} {
		if !strings.Contains(parent.Text, want) {
			t.Errorf("the parent lacks %q:\n%s", want, parent.Text)
		}
	}
	for _, lie := range []string{"main", "Routine", "0a1b2c3", "pproved by", "xtended"} {
		if strings.Contains(parent.AllText(), lie) {
			t.Errorf("the parent says %q:\n%s", lie, parent.AllText())
		}
	}
	if parent.Edits != 0 {
		t.Errorf("the parent was edited %d times; events that do not apply leave it as it was", parent.Edits)
	}
	replies := s.Replies(idDeploy, parent.TS)
	if len(replies) == 0 {
		t.Fatal("no replies in request 77's thread")
	}
	var all strings.Builder
	for _, r := range replies {
		all.WriteString(r.AllText() + "\n")
	}
	for _, want := range []string{testenv.Marker(2), testenv.Marker(3),
		"Not applied: its status is denied; only a successful event changes the request",
		"Not applied: nobody has approved the request"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("the replies lack %q:\n%s", want, all.String())
		}
	}
	// A real approval still lands, and still cannot change what was asked.
	d.Append(lifecycle("approve", 77, alice, 4, map[string]string{"expires_at": "2026-03-20T05:00:00Z", "git_branch": "main"}))
	waitEvents(t, s, idDeploy, 4, 5, 20*time.Second)
	testenv.Eventually(t, 20*time.Second, "the approve edited the parent", func() bool {
		m, _ := s.Message(idDeploy, parent.TS)
		return m.Edits == 1 && strings.Contains(m.Text, "77: approved by Alice Admin") && strings.Contains(m.Text, "Branch: feature/exfil") &&
			!strings.Contains(m.Text, "Branch: main")
	})
}

// pingsIn lists the posts (or edits) that carry a ping.
func pingsIn(ps []fakeslack.Post) []fakeslack.Post {
	var out []fakeslack.Post
	for _, p := range ps {
		if len(p.Pings()) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// postsTo lists the accepted posts to channel.
func postsTo(s *fakeslack.Server, channel string) []fakeslack.Post {
	var out []fakeslack.Post
	for _, p := range s.Posts() {
		if p.Channel == channel {
			out = append(out, p)
		}
	}
	return out
}

// Mentions ping once per thread (issue 18): 9 failed logins from 2
// addresses under thread_by ping exactly twice, on the two parents, however
// the replies are digested.
func TestThreadByPingsOncePerThread(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: `
  - name: security
    slack_channel: "#security"
    actions: ["login.*"]
    mention: [here, S0123ABCD]
    thread_by: ip_address
    thread_window: 1h
`})
	d.Start()
	var lines []string
	for n := 1; n <= 9; n++ {
		ip := "203.0.113.9"
		if n%3 == 0 {
			ip = "198.51.100.7"
		}
		lines = append(lines, testenv.Event("login.oauth_failed", n, "ip_address", ip))
	}
	d.Append(lines...)
	waitEvents(t, s, idSecurity, 1, 10, 30*time.Second)
	testenv.Eventually(t, 20*time.Second, "both parents count their thread", func() bool {
		ps := s.ChannelMessages(idSecurity)
		return len(ps) == 2 && strings.Contains(ps[0].Text, "6 events") && strings.Contains(ps[1].Text, "3 events")
	})
	security := postsTo(s, idSecurity)
	pinging := pingsIn(security)
	if len(pinging) != 2 {
		t.Fatalf("%d of %d posts in #security ping, want exactly 2 (the parents)", len(pinging), len(security))
	}
	for _, p := range pinging {
		if p.ThreadTS != "" || p.Params.Get("thread_ts") != "" || strings.Join(p.Pings(), " ") != "<!here> <!subteam^S0123ABCD>" {
			t.Errorf("a pinging post that is not a parent, or pings %v:\n%s", p.Pings(), p.Text)
		}
	}
	if p := pingsIn(s.Edits()); len(p) != 0 {
		t.Errorf("%d edits carry a ping", len(p))
	}
	t.Logf("#security: %d posts for 9 events, 2 pinging; %d edits, none pinging", len(security), len(s.Edits()))
}

// An approval thread pings its approvers once, when the request is
// opened: its replies (applied or not) and the parent's edits ping nobody.
func TestApprovalRepliesAndEditsPingNobody(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Extra: alertsOn + `  mention: [S0APPROVE1, U0ONCALL1]
`})
	d.Start()
	d.Append(create(78, 1))
	waitEvents(t, s, idDeploy, 1, 2, 20*time.Second)
	// One at a time, so that each is its own reply and edit.
	for n, line := range []string{
		lifecycle("approve", 78, alice, 2, map[string]string{"expires_at": "2026-03-20T05:00:00Z"}),
		lifecycle("extend", 78, carol, 3, map[string]string{"expires_at": "2026-03-20T07:00:00Z"}),
		withStatus(lifecycle("reject", 78, dan, 4, nil), "denied"),
		lifecycle("expired", 78, person{}, 5, nil),
	} {
		d.Append(line)
		waitEvents(t, s, idDeploy, n+2, n+3, 20*time.Second)
	}
	testenv.Eventually(t, 20*time.Second, "request 78's parent shows it expired", func() bool {
		ps := parentsOf(s, idDeploy, 78)
		return len(ps) == 1 && strings.Contains(ps[0].Text, "78: expired")
	})
	deploy := postsTo(s, idDeploy)
	pinging := pingsIn(deploy)
	if len(deploy) != 5 || len(pinging) != 1 || pinging[0].ThreadTS != "" || strings.Join(pinging[0].Pings(), " ") != "<!subteam^S0APPROVE1> <@U0ONCALL1>" {
		t.Fatalf("request 78: %d posts, %d pinging (%+v); want 5, its parent alone pinging", len(deploy), len(pinging), pinging)
	}
	edits := s.Edits()
	if p := pingsIn(edits); len(p) != 0 {
		t.Fatalf("%d of %d edits carry a ping, e.g. %v", len(p), len(edits), p[0].Pings())
	}
	if len(edits) != 3 {
		t.Fatalf("%d edits, want 3 (approve, extend, expired; the denied reject changes nothing)", len(edits))
	}
}

// postsIn counts the accepted posts to channel.
func postsIn(s *fakeslack.Server, channel string) int {
	n := 0
	for _, p := range s.Posts() {
		if p.Channel == channel {
			n++
		}
	}
	return n
}

// The probe of issue 17: after request 77 opened its thread, 10,100 failed
// logins from distinct addresses under a thread_by: ip_address rule (one
// thread each, a hundred past the table's 10,000) evict flood threads
// only; the approve for 77 lands in the original thread, which is edited.
func TestFloodCannotEvictARequestsThread(t *testing.T) {
	t.Parallel() // a minute under -race, mostly waiting for fsync: overlap it with the others
	const flood = 10100
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: `
  - name: security
    slack_channel: "#security"
    actions: ["login.*"]
    thread_by: ip_address
`, Extra: alertsOn})
	d.Start()
	d.Append(lifecycle("create", 77, bob, 1, map[string]string{"git_branch": "feature/threads", "git_commit_hash": "9f2c1e7", "message": "Release request 77"}))
	waitEvents(t, s, idDeploy, 1, 2, 20*time.Second)
	parent := parentsOf(s, idDeploy, 77)[0]

	lines := make([]string, flood)
	for i := range lines {
		lines[i] = testenv.Event("login.oauth_failed", 2+i, "ip_address", fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255))
	}
	start := time.Now()
	d.Append(lines...)
	testenv.Eventually(t, 5*time.Minute, "10,100 flood parents", func() bool { return postsIn(s, idSecurity) == flood })
	t.Logf("%d flood threads posted in %v", flood, time.Since(start).Round(time.Millisecond))

	const approve = 2 + flood
	d.Append(lifecycle("approve", 77, alice, approve, map[string]string{"expires_at": "2026-03-20T05:00:00Z"}))
	waitEvents(t, s, idDeploy, approve, approve+1, 30*time.Second)
	if ps := parentsOf(s, idDeploy, 77); len(ps) != 1 {
		t.Fatalf("request 77 has %d parents after the flood, want its original one", len(ps))
	}
	replies := s.Replies(idDeploy, parent.TS)
	if len(replies) != 1 || !strings.Contains(replies[0].Text, testenv.Marker(approve)) {
		t.Fatalf("the approve is not a reply under 77's original parent: %+v", replies)
	}
	testenv.Eventually(t, 20*time.Second, "the original parent edited to approved", func() bool {
		m, _ := s.Message(idDeploy, parent.TS)
		return m.Edits == 1 && strings.Contains(m.Text, "77: approved by Alice Admin") && strings.Contains(m.Text, "Branch: feature/threads")
	})

	testenv.Eventually(t, 30*time.Second, "100 flood threads evicted", func() bool {
		v, _ := d.Metric("auditfwd_threads_evicted_total", "channel=security")
		return v == flood-10000
	})
	if v, ok := d.Metric("auditfwd_threads_evicted_total", "channel=deploy_approval_alerts"); !ok || v != 0 {
		t.Fatalf("request threads evicted: %v (series present %v), want 0", v, ok)
	}
	d.WaitOutput("thread state is full", "class=thread_by") // the evictions are logged
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }
