package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// alertsOn turns on deploy approval alerts (threads are on by default).
const alertsOn = `
deploy_approval_alerts:
  enabled: true
  slack_channel: "#deploy-approvals"
`

// person is a user as the gateway writes one.
type person struct{ name, email string }

var (
	bob   = person{"Bob Builder", "bob@example.com"}
	alice = person{"Alice Admin", "alice@example.com"}
	carol = person{"Carol Ops", "carol@example.com"}
	dan   = person{"Dan Reviewer", "dan@example.com"}
)

// lifecycle is a deploy approval request's audit event as the gateway writes
// it (the request id in resource, the rest in details), carrying marker n.
func lifecycle(verb string, request int, who person, n int, details map[string]string) string {
	d, _ := json.Marshal(details)
	line, _ := json.Marshal(map[string]any{
		"action": "deploy_approval_request." + verb, "action_type": "gateway",
		"details": string(d), "resource": fmt.Sprint(request), "resource_type": "deploy_approval_request",
		"status": "success", "ts": time.Now().UTC().Format(time.RFC3339Nano),
		"user_email": who.email, "user_name": who.name, "test_marker": testenv.Marker(n),
	})
	return string(line)
}

func create(request int, n int) string {
	return lifecycle("create", request, bob, n, map[string]string{
		"git_branch": "feature/threads", "git_commit_hash": "9f2c1e7", "message": fmt.Sprintf("Release request %d", request)})
}

// parentsOf returns the messages in channel (not replies) whose text names
// the deploy approval request.
func parentsOf(s *fakeslack.Server, channel string, request int) []fakeslack.Message {
	var out []fakeslack.Message
	for _, m := range s.ChannelMessages(channel) {
		if strings.Contains(m.Text, fmt.Sprintf("Deploy approval request %d:", request)) {
			out = append(out, m)
		}
	}
	return out
}

// artifact writes data for the reviewer to $AUDITFWD_ARTIFACTS (or the
// test's temp dir) and logs where.
func artifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("AUDITFWD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(data))
}

// Request 42: create → approve → (restart) → extend, with request 43's
// create → reject interleaved: each request in one thread of its own, the
// parent edited to tell the current state.
func TestApprovalLifecycleOneThreadPerRequestAcrossARestart(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Extra: alertsOn})
	d.Start()
	now := time.Now().UTC().Truncate(time.Second)
	until, extended := now.Add(15*time.Minute).Format(time.RFC3339), now.Add(2*time.Hour).Format(time.RFC3339)
	d.Append(
		create(42, 1),
		create(43, 2),
		lifecycle("approve", 42, alice, 3, map[string]string{"expires_at": until, "notes": "LGTM"}),
		lifecycle("reject", 43, dan, 4, map[string]string{"notes": "not on a Friday"}),
	)
	waitEvents(t, s, idDeploy, 1, 5, 20*time.Second)
	testenv.Eventually(t, 20*time.Second, "two parents edited", func() bool {
		v, _ := d.Metric("auditfwd_slack_message_updates_total", "channel=deploy_approval_alerts")
		return v == 2
	})
	stop(t, d)
	d.Start()
	if v, ok := d.Metric("auditfwd_slack_message_updates_total", "channel=deploy_approval_alerts"); !ok || v != 0 {
		t.Fatalf("updates counter after the restart: %v (present %v), want 0 from start-up", v, ok)
	}
	d.Append(lifecycle("extend", 42, carol, 5, map[string]string{"expires_at": extended}))
	waitEvents(t, s, idDeploy, 5, 6, 20*time.Second)
	testenv.Eventually(t, 20*time.Second, "the extension edited the parent", func() bool {
		v, _ := d.Metric("auditfwd_slack_message_updates_total", "channel=deploy_approval_alerts")
		return v == 1
	})
	assertExactlyOnce(t, s, idDeploy, 1, 6)

	p42, p43 := parentsOf(s, idDeploy, 42), parentsOf(s, idDeploy, 43)
	if len(p42) != 1 || len(p43) != 1 || len(s.ChannelMessages(idDeploy)) != 2 {
		t.Fatalf("parents: 42 has %d, 43 has %d, the channel shows %d messages; want one parent each", len(p42), len(p43), len(s.ChannelMessages(idDeploy)))
	}
	parent := p42[0]
	replies := s.Replies(idDeploy, parent.TS)
	if len(replies) != 2 || !strings.Contains(replies[0].Text, testenv.Marker(3)) || !strings.Contains(replies[1].Text, testenv.Marker(5)) {
		t.Fatalf("request 42's replies: %+v", replies)
	}
	for _, p := range s.Posts() {
		if p.Channel == idDeploy && (strings.Contains(p.Text, testenv.Marker(3)) || strings.Contains(p.Text, testenv.Marker(5))) {
			if p.Params.Get("thread_ts") != parent.TS || p.ThreadTS != parent.TS {
				t.Errorf("a reply of 42 sent with thread_ts %q (landed in %q), want the parent's %s", p.Params.Get("thread_ts"), p.ThreadTS, parent.TS)
			}
		}
	}
	for _, want := range []string{"approved by Alice Admin (alice@example.com)", "extended until " + extended, "Requested by: Bob Builder (bob@example.com)", "Branch: feature/threads", "Commit: 9f2c1e7", testenv.Marker(1)} {
		if !strings.Contains(parent.Text, want) {
			t.Errorf("request 42's parent lacks %q:\n%s", want, parent.Text)
		}
	}
	if parent.Edits != 2 || s.Updates(idDeploy) != 3 {
		t.Errorf("edits: 42's parent %d (want 2), channel %d (want 3)", parent.Edits, s.Updates(idDeploy))
	}
	r43 := s.Replies(idDeploy, p43[0].TS)
	if len(r43) != 1 || !strings.Contains(r43[0].Text, testenv.Marker(4)) || !strings.Contains(p43[0].Text, "rejected by Dan Reviewer (dan@example.com)") {
		t.Errorf("request 43: parent %q, replies %+v", p43[0].Text, r43)
	}

	captured, err := json.MarshalIndent(s.ThreadRequests(idDeploy, parent.TS), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "approval-thread-42.json", captured)
}

// The parent deleted at Slack before the approve: the edit gets
// message_not_found, and the approve is delivered as the parent of a new
// thread, which the next event replies to.
func TestDeletedParentApproveStartsANewThread(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Extra: alertsOn})
	d.Start()
	d.Append(create(44, 1))
	waitEvents(t, s, idDeploy, 1, 2, 20*time.Second)
	old := parentsOf(s, idDeploy, 44)[0]
	if !s.DeleteMessage(idDeploy, old.TS) {
		t.Fatal("cannot delete the parent")
	}
	d.Append(lifecycle("approve", 44, alice, 2, map[string]string{"expires_at": "2026-03-20T01:30:00Z"}))
	waitEvents(t, s, idDeploy, 2, 3, 20*time.Second)
	var notFound int
	for _, a := range s.Attempts("chat.update") {
		if a.Error == "message_not_found" {
			notFound++
		}
	}
	if notFound != 1 {
		t.Fatalf("%d chat.update answered message_not_found, want 1", notFound)
	}
	var approve fakeslack.Post
	for _, p := range s.Posts() {
		if p.Channel == idDeploy && strings.Contains(p.Text, testenv.Marker(2)) { // #infrastructure gets it too, in any order
			approve = p
		}
	}
	if approve.ThreadTS != "" || approve.Params.Get("thread_ts") != "" {
		t.Fatalf("the approve was sent as a reply (thread_ts %q): want the parent of a new thread", approve.Params.Get("thread_ts"))
	}
	if !strings.Contains(approve.Text, "Deploy approval request 44: approved by Alice Admin") || !strings.Contains(approve.Text, "Requested by: Bob Builder") {
		t.Errorf("the new parent does not carry the request's state:\n%s", approve.Text)
	}
	d.Append(lifecycle("extend", 44, carol, 3, map[string]string{"expires_at": "2026-03-20T03:00:00Z"}))
	waitEvents(t, s, idDeploy, 3, 4, 20*time.Second)
	if r := s.Replies(idDeploy, approve.TS); len(r) != 1 || !strings.Contains(r[0].Text, testenv.Marker(3)) {
		t.Fatalf("the extension should reply to the new parent: %+v", r)
	}
	if m, _ := s.Message(idDeploy, approve.TS); !strings.Contains(m.Text, "extended until 2026-03-20T03:00:00Z") {
		t.Errorf("the new parent was not edited:\n%s", m.Text)
	}
	assertExactlyOnce(t, s, idDeploy, 1, 4)
}

// thread_by: ip_address with 20 failed logins from one address and 5 from
// another, interleaved and in one burst: two parents, every other event in
// a reply (digested), the parents showing 20 and 5.
func TestThreadByIPAddress(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: `
  - name: security
    slack_channel: "#security"
    actions: ["login.*"]
    thread_by: ip_address
    thread_window: 1h
`})
	d.Start()
	const ipA, ipB = "203.0.113.9", "198.51.100.7"
	var lines []string
	ipOf := map[int]string{}
	for n := 1; n <= 25; n++ {
		ip := ipA
		if n%5 == 0 {
			ip = ipB
		}
		ipOf[n] = ip
		lines = append(lines, testenv.Event("login.oauth_failed", n, "ip_address", ip))
	}
	d.Append(lines...)
	waitEvents(t, s, idSecurity, 1, 26, 30*time.Second)
	testenv.Eventually(t, 20*time.Second, "parents show 20 and 5", func() bool {
		ps := s.ChannelMessages(idSecurity)
		return len(ps) == 2 && strings.Contains(ps[0].Text, "20 events with ip_address "+ipA) && strings.Contains(ps[1].Text, "5 events with ip_address "+ipB)
	})
	assertExactlyOnce(t, s, idSecurity, 1, 26)
	parents := s.ChannelMessages(idSecurity)
	for i, c := range []struct {
		ip      string
		replies int
	}{{ipA, 19}, {ipB, 4}} {
		p := parents[i]
		var texts []string
		for _, r := range s.Replies(idSecurity, p.TS) {
			texts = append(texts, r.AllText())
		}
		count, _ := testenv.CountMarkers(texts)
		got := 0
		for n, k := range count {
			if ipOf[n] != c.ip || k != 1 {
				t.Errorf("thread %s: event %d (from %s) appears %d times", c.ip, n, ipOf[n], k)
			}
			got++
		}
		if got != c.replies {
			t.Errorf("thread %s: %d events in replies, want %d", c.ip, got, c.replies)
		}
		t.Logf("thread %s: parent + %d events in %d reply messages; parent edited %d times", c.ip, got, len(texts), p.Edits)
	}
	if v := d.MustMetric("auditfwd_slack_message_updates_total", "channel=security"); v < 2 {
		t.Errorf("updates %v, want at least one per parent", v)
	}
}

// kill -9 three times while lifecycle events of 10 requests stream in:
// nothing is missing, and a request has two parents only where a crash hit
// between Slack taking its parent and auditfwd recording it.
func TestKill9DuringApprovalLifecycles(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	// Slack answers 30 ms after taking a message, so that a kill can fall
	// between the two. (No rate limit: interleaved requests cannot share a
	// message, and the fake's whole-second Retry-After would make each wait
	// a second.)
	s.SetAnswerLatency(30 * time.Millisecond)
	d := newDaemon(t, s, testenv.Options{Extra: alertsOn})
	d.Start()
	const requests, rounds = 10, 8
	total := requests * rounds
	verbs := []string{"create", "approve", "extend", "extend", "extend", "extend", "extend", "expired"}
	people := []person{bob, alice, carol, carol, carol, carol, carol, {}}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for r := range rounds {
			for q := range requests {
				n++
				line := lifecycle(verbs[r], 100+q, people[r], n, map[string]string{"expires_at": fmt.Sprintf("2026-03-20T%02d:00:00Z", r)})
				if r == 0 {
					line = create(100+q, n)
				}
				testenv.AppendFile(t, d.LogPath, line)
				time.Sleep(40 * time.Millisecond) // a steady stream while the daemon is killed
			}
		}
	}()
	unrecorded := map[string]bool{} // parents Slack took that were not in threads.jsonl when the daemon died
	for k := 0; k < 3; k++ {
		before := len(s.Posts())
		// Kills spread over the stream: parents first, then replies.
		testenv.Eventually(t, 30*time.Second, "more posts before the kill", func() bool { return len(s.Posts()) > before+12 })
		d.Kill()
		recorded := recordedParents(t, d.StateDir)
		for q := range requests {
			for _, p := range parentsOf(s, idDeploy, 100+q) {
				if !recorded[p.TS] {
					unrecorded[p.TS] = true
				}
			}
		}
		d.Start()
	}
	wg.Wait()
	waitEvents(t, s, idDeploy, 1, total+1, 60*time.Second)
	c, _ := testenv.CountMarkers(texts(s, idDeploy))
	missing, dups := c.MissingDuplicates(1, total+1)
	if len(missing) > 0 {
		t.Fatalf("missing %d: %v", len(missing), missing)
	}
	// A repeated message is one whose events all arrived before: at most
	// the one in flight per kill.
	repeated := testenv.Repeats(map[int]bool{}, texts(s, idDeploy))
	twoParents, explained := 0, 0
	for q := range requests {
		ps := parentsOf(s, idDeploy, 100+q)
		if len(ps) == 1 {
			continue
		}
		twoParents++
		for _, p := range ps {
			if unrecorded[p.TS] {
				explained++
				break
			}
		}
	}
	t.Logf("after 3 kill -9: 0 missing of %d; %d messages (%d events) repeated; %d requests with two parents; %d parents posted but not recorded when killed",
		total, repeated, len(dups), twoParents, len(unrecorded))
	if twoParents != explained {
		t.Fatalf("%d requests have two parents, only %d of them after a crash between posting and recording the parent", twoParents, explained)
	}
	if repeated > 3 {
		t.Fatalf("%d repeated messages after 3 kills (at most the one in flight each time)", repeated)
	}
}

// recordedParents reads the parents' ts from the thread state file as a
// crashed daemon left it (a torn last line is skipped).
func recordedParents(t *testing.T, stateDir string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stateDir, statedir.ThreadsFile))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var th struct {
			TS string `json:"ts"`
		}
		if json.Unmarshal(sc.Bytes(), &th) == nil && th.TS != "" {
			out[th.TS] = true
		}
	}
	return out
}

// A deploy approval request's events dead-lettered (the alert channel did
// not exist yet) and redelivered once it does: each stands alone, headed
// with what it did to the request; an approval never reads "requested".
func TestRedeliveredApprovalsAreHeadedByWhatHappened(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{Channels: "  []\n", Extra: `
deploy_approval_alerts:
  enabled: true
  slack_channel: "#approvals-new"
`})
	d.Start()
	d.Append(create(42, 1), lifecycle("approve", 42, alice, 2, nil))
	testenv.Eventually(t, 20*time.Second, "two dead letters", func() bool {
		v, _ := d.Metric("auditfwd_events_dead_lettered_total", "channel=deploy_approval_alerts", "reason=channel_not_found")
		return v == 2
	})
	const id = "C0APPROVAL1"
	s.AddChannel(id, "approvals-new", true)
	if out, errOut, code := d.Run("redeliver"); code != 0 || !strings.Contains(out, "redelivered 2, kept 0") {
		t.Fatalf("redeliver exit %d: %s %s", code, out, errOut)
	}
	heads := map[int]string{}
	for _, m := range s.ChannelMessages(id) {
		c, _ := testenv.CountMarkers([]string{m.AllText()})
		for n := range c {
			heads[n], _, _ = strings.Cut(m.Text, "\n")
		}
	}
	if heads[1] != "🚀 Deploy approval requested" || heads[2] != "🚀 Deploy approval request approved" {
		t.Errorf("headings: create %q, approve %q", heads[1], heads[2])
	}
}
