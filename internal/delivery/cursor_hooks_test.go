package delivery

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/token"
)

// The Postgres source's hooks: events another instance delivered are
// acknowledged without a post, and every acknowledgement (posted or
// dead-lettered) reports its last position, in order.
func TestDeliveredAndAckedHooks(t *testing.T) {
	fake := newFakeSlack(nil, slackErr("not_in_channel"))
	var mu sync.Mutex
	var acked []logpos.Position
	var dir statedir.Dir
	delivered := logpos.Position{Gen: 1, Offset: 200} // evt-000 and evt-001 went out before
	svc, conn := newFakeServiceWith(t, fake, false, func(o *Options) {
		dir = o.State
		o.Queues, o.DigestMax = o.State.DBQueues(), 1
		o.Delivered = func(ch string, p logpos.Position) bool { return ch == "security" && !delivered.Less(p) }
		o.Acked = func(ch string, p logpos.Position) { mu.Lock(); acked = append(acked, p); mu.Unlock() }
	})
	enqueue(t, svc, 0, 4) // positions 100, 200, 300, 400
	conn.Set(token.Token{AccessToken: "xoxb-fake"})
	fake.waitFor(t, "evt-002 posted, evt-003 dead-lettered", func(calls int, _ []string) bool { return calls == 2 })
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n < 4; {
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledgements reported, want 4", n)
		}
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		n = len(acked)
		mu.Unlock()
	}
	if q := svc.Queued("security"); q != 0 {
		t.Errorf("still queued: %d", q)
	}
	if texts := fake.texts(); len(texts) != 1 || !strings.Contains(texts[0], "evt-002") {
		t.Errorf("posted %q, want evt-002 alone", texts)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []logpos.Position{{Gen: 1, Offset: 100}, {Gen: 1, Offset: 200}, {Gen: 1, Offset: 300}, {Gen: 1, Offset: 400}}
	if !slices.Equal(acked, want) {
		t.Errorf("acked %v, want %v", acked, want)
	}
	if _, err := dir.DBQueues().List(); err != nil {
		t.Fatal(err)
	}
	if names, _ := dir.Queues().List(); len(names) != 0 {
		t.Errorf("the file source's spools were used: %v", names)
	}
}
