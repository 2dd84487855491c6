package delivery

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/threads"
	"github.com/auditfwd/auditfwd/internal/token"
)

var byIP = rules.Destination{Channel: "security", SlackChannel: "#security", Thread: threads.Spec{By: "ip_address", Window: time.Hour}.String()}

func failedLogin(n int, ip string) string {
	return fmt.Sprintf(`{"action":"login.oauth_failed","ip_address":%q,"resource":"evt-%03d","status":"failed","ts":%q}`, ip, n, time.Now().UTC().Format(time.RFC3339))
}

// enqueueLines queues lines for d and makes them durable.
func (f *fixture) enqueueLines(d rules.Destination, lines ...string) {
	f.t.Helper()
	for _, line := range lines {
		f.pos += 100
		if _, err := f.svc.Enqueue(d, []byte(line), logpos.Position{Gen: 1, Offset: f.pos}); err != nil {
			f.t.Fatal(err)
		}
	}
	f.svc.Publish()
	if err := f.svc.Sync(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("timed out waiting for %s; posts: %d", what, len(f.fs.Posts()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f *fixture) updates() float64 {
	return f.counter("auditfwd_slack_message_updates_total", "security", "")
}

// counter reads a counter of channel (and reason, when not "") from the registry.
func (f *fixture) counter(name, channel, reason string) float64 {
	fams, err := f.m.Registry.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range fams {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() != channel || l.GetName() == "reason" && reason != "" && l.GetValue() != reason {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestBacklogOneParentOneReplyDigestOneEditPerThread(t *testing.T) {
	f := newFixture(t, false) // not connected: the events wait, as in a backlog
	var lines []string
	for i := 1; i <= 5; i++ {
		lines = append(lines, failedLogin(i, "10.0.0.1"))
	}
	lines = append(lines, failedLogin(6, "10.0.0.2"), failedLogin(7, "10.0.0.2"))
	f.enqueueLines(byIP, lines...)
	f.conn.Set(token.Token{AccessToken: tok})
	posts := f.waitPosts(4)
	if len(posts) != 4 {
		t.Fatalf("%d posts, want 4 (two parents, two replies)", len(posts))
	}
	parentA, replyA, parentB, replyB := posts[0], posts[1], posts[2], posts[3]
	if parentA.ThreadTS != "" || !strings.Contains(parentA.Text, "evt-001") || replyA.ThreadTS != parentA.TS {
		t.Fatalf("thread A: parent %+v reply %+v", parentA, replyA)
	}
	for i := 2; i <= 5; i++ {
		if !strings.Contains(replyA.Text, fmt.Sprintf("evt-%03d", i)) {
			t.Errorf("the reply digest lacks evt-%03d", i)
		}
	}
	if parentB.ThreadTS != "" || replyB.ThreadTS != parentB.TS || !strings.Contains(replyB.Text, "evt-007") {
		t.Fatalf("thread B: parent %+v reply %+v", parentB, replyB)
	}
	f.waitFor("two edits", func() bool { return f.updates() == 2 })
	pa, _ := f.fs.Message("C0SECURITY1", parentA.TS)
	pb, _ := f.fs.Message("C0SECURITY1", parentB.TS)
	if pa.Edits != 1 || !strings.Contains(pa.Text, "5 events with ip_address 10.0.0.1") || pb.Edits != 1 || !strings.Contains(pb.Text, "2 events with ip_address 10.0.0.2") {
		t.Fatalf("parents after one edit each:\n%+v\n%+v", pa, pb)
	}
	if n := f.svc.threads.Count("security", time.Now()); n != 2 {
		t.Fatalf("%d open threads, want 2", n)
	}
}

func TestEditFailuresNeverHoldTheReply(t *testing.T) {
	for _, c := range []struct {
		code  string
		fails int
	}{
		{"cant_update_message", 1},
		{"edit_window_closed", 1},
		{"msg_too_long", 2}, // then as text only, refused again
		{"is_archived", 1},
		{"service_unavailable", 1}, // transient: the edit is retried first
	} {
		t.Run(c.code, func(t *testing.T) {
			f := newFixture(t, true)
			f.enqueueLines(byIP, failedLogin(1, "10.0.0.1"))
			parent := f.waitPosts(1)[0]
			f.fs.FailNext("chat.update", c.code, c.fails)
			f.enqueueLines(byIP, failedLogin(2, "10.0.0.1"))
			reply := f.waitPosts(2)[1]
			if reply.ThreadTS != parent.TS || !strings.Contains(reply.Text, "evt-002") {
				t.Fatalf("reply %+v", reply)
			}
			f.waitFor("the failure counted", func() bool {
				return f.counter("auditfwd_delivery_failures_total", "security", c.code) >= 1
			})
			f.enqueueLines(byIP, failedLogin(3, "10.0.0.1"))
			f.waitPosts(3)
			edits := f.fs.Attempts("chat.update")
			switch c.code {
			case "cant_update_message", "edit_window_closed":
				// Refused for good: never tried again.
				if len(edits) != 1 {
					t.Fatalf("%d chat.update attempts after %s, want 1", len(edits), c.code)
				}
			case "service_unavailable":
				f.waitFor("two edits", func() bool { return f.updates() == 2 })
				if p, _ := f.fs.Message("C0SECURITY1", parent.TS); !strings.Contains(p.Text, "3 events") {
					t.Fatalf("parent %q", p.Text)
				}
			}
			if n := len(f.fs.Posts()); n != 3 {
				t.Fatalf("%d posts, want 3: a reply was repeated or lost", n)
			}
		})
	}
}

func TestGoneParentStartsANewThread(t *testing.T) {
	t.Run("message_not_found on the edit", func(t *testing.T) {
		f := newFixture(t, true)
		f.enqueueLines(byIP, failedLogin(1, "10.0.0.1"))
		old := f.waitPosts(1)[0]
		f.fs.DeleteMessage("C0SECURITY1", old.TS)
		f.enqueueLines(byIP, failedLogin(2, "10.0.0.1"), failedLogin(3, "10.0.0.1"))
		posts := f.waitPosts(3)
		if posts[1].ThreadTS != "" || !strings.Contains(posts[1].Text, "evt-002") || posts[1].Params.Get("thread_ts") != "" {
			t.Fatalf("the event after the deletion should be a new parent: %+v", posts[1])
		}
		if posts[2].ThreadTS != posts[1].TS {
			t.Fatalf("the next event should reply to the new parent: %+v", posts[2])
		}
	})
	t.Run("reply answered without thread_ts", func(t *testing.T) {
		f := newFixture(t, true)
		f.enqueueLines(byIP, failedLogin(1, "10.0.0.1"))
		old := f.waitPosts(1)[0]
		// The edit is refused for good, so only the reply finds out.
		f.fs.FailNext("chat.update", "edit_window_closed", 1)
		f.fs.DeleteMessage("C0SECURITY1", old.TS)
		f.enqueueLines(byIP, failedLogin(2, "10.0.0.1"))
		adopted := f.waitPosts(2)[1]
		if adopted.ThreadTS != "" || adopted.Params.Get("thread_ts") != old.TS {
			t.Fatalf("reply to the gone parent: %+v", adopted)
		}
		f.waitFor("the new parent edited", func() bool {
			m, _ := f.fs.Message("C0SECURITY1", adopted.TS)
			return strings.Contains(m.Text, "1 event with ip_address")
		})
		f.enqueueLines(byIP, failedLogin(3, "10.0.0.1"))
		if p := f.waitPosts(3)[2]; p.ThreadTS != adopted.TS {
			t.Fatalf("the next event should reply to the adopted parent: %+v", p)
		}
	})
}

// A crash after the thread was recorded and before the spool was
// acknowledged: the record is recognised and not posted again.
func TestRecordedParentIsNotPostedAgain(t *testing.T) {
	f := newFixture(t, false)
	first := failedLogin(1, "10.0.0.1")
	f.enqueueLines(byIP, first, failedLogin(2, "10.0.0.1"))
	ev, err := event.Parse([]byte(first))
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := threads.ParseSpec(byIP.Thread)
	th := threads.New("security", spec.Key(&ev), spec, &ev, []byte(first), time.Now())
	// The parent Slack took before the crash.
	p, err := slack.New(slack.Options{APIURL: f.fs.URL, Token: tok}).Post(t.Context(), "C0SECURITY1", new(slack.Renderer).Parent(&th))
	if err != nil {
		t.Fatal(err)
	}
	th.SlackChannel, th.TS = p.Channel, p.TS
	th.Mark(logpos.Position{Gen: 1, Offset: 100}, []byte(first))
	if err := f.svc.threads.Put(t.Context(), th); err != nil {
		t.Fatal(err)
	}
	f.conn.Set(token.Token{AccessToken: tok})
	f.waitPosts(2)
	f.waitFor("the spool emptied", func() bool {
		ch, _ := f.svc.channel("security")
		return ch.q.Len() == 0
	})
	if posts := f.fs.Posts(); len(posts) != 2 || posts[1].ThreadTS != th.TS || strings.Contains(posts[1].Text, "evt-001") {
		t.Fatalf("posts %+v: want only evt-002 after the parent, as a reply to it", posts)
	}
}

// The reply fails after the edit went through: the retry posts the reply
// without editing the parent again.
func TestRetriedReplyDoesNotEditAgain(t *testing.T) {
	f := newFixture(t, true)
	f.enqueueLines(byIP, failedLogin(1, "10.0.0.1"))
	f.waitPosts(1)
	f.fs.FailNext("chat.postMessage", "service_unavailable", 2)
	f.enqueueLines(byIP, failedLogin(2, "10.0.0.1"))
	f.waitPosts(2)
	if n := len(f.fs.Attempts("chat.update")); n != 1 || f.updates() != 1 {
		t.Fatalf("%d chat.update attempts (%v counted) for one reply retried twice, want 1", n, f.updates())
	}
}

// A dead letter keeps whom its message would have pinged: a thread's
// parent its rule's mentions, a reply nobody, so that redeliver does not
// ping once per event of a thread.
func TestDeadLetteredRepliesPingNobodyWhenRedelivered(t *testing.T) {
	f := newFixture(t, true)
	loud := byIP
	loud.Mention = []string{"here"}
	f.enqueueLines(loud, failedLogin(1, "10.0.0.1"))
	f.waitPosts(1)
	f.fs.FailNext("chat.postMessage", "is_archived", 1)
	f.enqueueLines(loud, failedLogin(2, "10.0.0.1"))
	f.waitFor("the reply dead-lettered", func() bool { return f.svc.dead.Count("security") == 1 })
	f.fs.FailNext("chat.postMessage", "is_archived", 1)
	f.enqueueLines(loud, failedLogin(3, "10.0.0.2"))
	f.waitFor("the parent dead-lettered", func() bool { return f.svc.dead.Count("security") == 2 })
	file, err := readDeadLetters(f.svc.opts.State.DeadLetters())
	if err != nil {
		t.Fatal(err)
	}
	dl := file.entries
	if len(dl) != 2 || len(dl[0].Mention) != 0 || !slices.Equal(dl[1].Mention, []string{"here"}) {
		t.Fatalf("dead letters' mentions: reply %v, parent %v; want none and [here]", dl[0].Mention, dl[1].Mention)
	}
}
