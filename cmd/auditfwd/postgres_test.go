package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/gatewaydb"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// pg is the PostgreSQL server the package's tests share (a database each);
// TestMain stops it.
var pg gatewaydb.Lazy

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Close()
	os.Exit(code)
}

// pgSource is the audit_log keys of the Postgres source.
const pgSource = `  source: postgres
  postgres:
    state_schema: auditfwd
    poll_interval: 200ms
`

// newPGDaemon is an auditfwd reading db with the DSN in the environment,
// posting with its own bot token.
func newPGDaemon(t *testing.T, s *fakeslack.Server, c *gatewaydb.Cluster, db, token string, o testenv.Options) *testenv.Daemon {
	t.Helper()
	s.AddToken(token)
	o.APIURL = s.URL
	o.AuditLog = pgSource + o.AuditLog
	o.Env = append(o.Env, "SLACK_BOT_TOKEN="+token, "AUDITFWD_POSTGRES_DSN="+c.AuditfwdDSN(db))
	d := testenv.New(t, o)
	t.Cleanup(func() {
		if strings.Contains(d.Output(), gatewaydb.AuditfwdPassword) {
			t.Errorf("the DSN's password is in auditfwd's output")
		}
	})
	return d
}

// mixed is the n-th row of a mixed workload: two actions for #security,
// two for #infrastructure, one no rule routes; its marker in request_id.
func mixed(n int) gatewaydb.Event {
	e := gatewaydb.Event{UserEmail: "ops@example.com", UserName: "Ops", Status: "success", RequestID: testenv.Marker(n), IPAddress: "203.0.113.9"}
	switch n % 5 {
	case 0:
		e.ActionType, e.Action = "auth", "login.complete"
	case 1:
		e.ActionType, e.Action, e.Resource, e.ResourceType = "convox", "release.promote", "billing/R123", "release"
	case 2:
		e.ActionType, e.Action, e.Resource, e.ResourceType = "convox", "app.read", "billing", "app"
	case 3:
		e.ActionType, e.Action, e.Status, e.Details = "auth", "login.oauth_failed", "failed", `{"reason":"state mismatch"}`
	case 4:
		e.ActionType, e.Action, e.Resource, e.ResourceType = "gateway", "deploy_approval_request.create", fmt.Sprint(1000+n), "deploy_approval_request"
	}
	return e
}

// mixedChannel is where mixed(n) goes with the default channels.
func mixedChannel(n int) string {
	switch n % 5 {
	case 0, 3:
		return idSecurity
	case 1, 4:
		return idInfra
	}
	return ""
}

// appendRows appends mixed rows from..to-1 as the gateway does, every
// `every` (0: at once).
func appendRows(t *testing.T, gw *gatewaydb.Gateway, from, to int, every time.Duration) {
	t.Helper()
	tick := time.NewTicker(max(every, time.Millisecond))
	defer tick.Stop()
	for n := from; n < to; n++ {
		if every > 0 && n > from {
			<-tick.C
		}
		if _, err := gw.Append(context.Background(), mixed(n)); err != nil {
			t.Errorf("append row %d: %v", n, err)
			return
		}
	}
}

func gateway(t *testing.T, c *gatewaydb.Cluster, db string) *gatewaydb.Gateway {
	t.Helper()
	gw, err := c.Gateway(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	return gw
}

// routedMarkers lists the markers of rows from..to-1 that go to channel.
func routedMarkers(channel string, from, to int) []int {
	var out []int
	for n := from; n < to; n++ {
		if mixedChannel(n) == channel {
			out = append(out, n)
		}
	}
	return out
}

// checkMixed checks that every routed row of from..to-1 reached its channel
// exactly once, in order, allowing the repeats allowed (nil: none), and
// that no unrouted row reached Slack.
func checkMixed(t *testing.T, s *fakeslack.Server, from, to int, allowed func(channel string, dups []int) bool) {
	t.Helper()
	for _, ch := range []string{idSecurity, idInfra} {
		c, order := testenv.CountMarkers(texts(s, ch))
		want := routedMarkers(ch, from, to)
		var missing, dups, stray []int
		for _, n := range want {
			switch c[n] {
			case 0:
				missing = append(missing, n)
			case 1:
			default:
				for range c[n] - 1 {
					dups = append(dups, n)
				}
			}
		}
		for n := range c {
			if n >= from && n < to && mixedChannel(n) != ch {
				stray = append(stray, n)
			}
		}
		if len(missing) > 0 || len(stray) > 0 {
			t.Fatalf("%s: missing %d %v, wrongly routed %v", ch, len(missing), head(missing), stray)
		}
		if len(dups) > 0 && (allowed == nil || !allowed(ch, dups)) {
			t.Fatalf("%s: %d repeated %v, more than the messages in flight", ch, len(dups), head(dups))
		}
		// In order: the first delivery of each event follows the order of
		// the rows (a repeat may come later).
		seen := map[int]bool{}
		last := -1
		for _, n := range order {
			if seen[n] {
				continue
			}
			seen[n] = true
			if n < last {
				t.Fatalf("%s: row %d arrived after row %d", ch, n, last)
			}
			last = n
		}
	}
}

// 300 mixed rows written while auditfwd runs, a restart, 50 more: every
// routed event once, in order per channel; the cursors in the database say
// so; a second start repeats nothing.
func TestPostgresSourceDeliversEveryRowOnceAcrossARestart(t *testing.T) {
	c := pg.Get(t)
	db := c.DB(t)
	gw := gateway(t, c, db)
	s := newSlack(t)
	d := newPGDaemon(t, s, c, db, botToken, testenv.Options{})
	d.Start()
	if v := d.MustMetric("auditfwd_leader"); v != 1 {
		t.Fatalf("auditfwd_leader = %v, want 1", v)
	}
	appendRows(t, gw, 0, 300, 2*time.Millisecond)
	waitEvents(t, s, idSecurity, 0, 0, time.Second) // no-op: keeps the helper's shape
	testenv.Eventually(t, 60*time.Second, "300 rows delivered", func() bool {
		return delivered(s, 0, 300)
	})
	stop(t, d)
	d.Start()
	appendRows(t, gw, 300, 350, 0)
	testenv.Eventually(t, 60*time.Second, "50 more rows delivered", func() bool {
		return delivered(s, 300, 350)
	})
	checkMixed(t, s, 0, 350, nil)
	if v := d.MustMetric("auditfwd_events_unrouted_total"); v != 10 {
		t.Errorf("unrouted after the restart: %v, want the 10 app.read rows", v)
	}
	if v, _ := d.Metric("auditfwd_events_already_queued_total", "channel=security"); v != 0 {
		t.Errorf("the restart read rows again: %v", v)
	}
	testenv.Eventually(t, 10*time.Second, "the cursors in the database", func() bool {
		cur := cursors(t, c, db)
		return cur["security"] >= 348 && cur["infrastructure"] >= 349 && cur["*"] == 349
	})
	if v := d.MustMetric("auditfwd_source_lag_events"); v != 0 {
		t.Errorf("auditfwd_source_lag_events = %v after catching up", v)
	}
}

// delivered reports whether every routed row of from..to-1 is in Slack.
func delivered(s *fakeslack.Server, from, to int) bool {
	for _, ch := range []string{idSecurity, idInfra} {
		c, _ := testenv.CountMarkers(texts(s, ch))
		for _, n := range routedMarkers(ch, from, to) {
			if c[n] == 0 {
				return false
			}
		}
	}
	return true
}

// cursors reads auditfwd's delivery cursors as chain indexes.
func cursors(t *testing.T, c *gatewaydb.Cluster, db string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.Admin(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]int64{}
	rows, _ := conn.Query(ctx, "SELECT channel, chain_index FROM auditfwd.delivery_cursor")
	var ch string
	var i int64
	if _, err := pgx.ForEachRow(rows, []any{&ch, &i}, func() error { out[ch] = i; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// A row deleted from the middle and a row whose previous_hash is broken:
// one auditfwd.chain_broken alert each, to the first channel (no rule names
// the action), naming the last good and the first index after; the rows
// after them are delivered.
func TestPostgresChainBreaksAreAlertedOnce(t *testing.T) {
	c := pg.Get(t)
	db := c.DB(t)
	gw := gateway(t, c, db)
	s := newSlack(t)
	d := newPGDaemon(t, s, c, db, botToken, testenv.Options{})
	d.Start()
	appendRows(t, gw, 0, 10, 0)
	testenv.Eventually(t, 30*time.Second, "the first rows", func() bool { return delivered(s, 0, 10) })
	// Rows 10 to 29 in one transaction that also deletes row 15 and breaks
	// row 22's link, with the table's triggers disabled as its owner.
	err := c.Tx(context.Background(), db, func(tx pgx.Tx) error {
		for n := 10; n < 30; n++ {
			if _, err := gatewaydb.AppendTx(context.Background(), tx, mixed(n)); err != nil {
				return err
			}
		}
		return gatewaydb.TamperTx(context.Background(), tx, "DELETE FROM audit.audit_event WHERE chain_index = 15",
			`UPDATE audit.audit_event SET previous_hash = '\x0badc0de' WHERE chain_index = 22`)
	})
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, gw, 30, 40, 0)
	testenv.Eventually(t, 30*time.Second, "the rows after the breaks", func() bool { return delivered(s, 30, 40) })
	n, all := 0, ""
	for _, p := range s.Posts() {
		if k := strings.Count(p.Text, "auditfwd.chain_broken"); k > 0 {
			if p.Channel != idSecurity {
				t.Errorf("alert posted to %s, want the first channel (security)", p.Channel)
			}
			n += k
			all += p.Text
		}
	}
	if n != 2 {
		t.Fatalf("%d chain_broken alerts, want 2:\n%s", n, all)
	}
	for _, w := range []string{
		"first_index_after: 16\nlast_good_index: 14\nmissing_rows: 1\nreason: row 15 is missing between rows 14 and 16",
		"first_index_after: 22\nlast_good_index: 21\nreason: the previous_hash of row 22 is not the event_hash of row 21",
		"Status: alert",
	} {
		if !strings.Contains(all, w) {
			t.Errorf("the alerts lack %q:\n%s", w, all)
		}
	}
	if i, j := strings.Index(all, "first_index_after: 16"), strings.Index(all, testenv.Marker(18)); i < 0 || j < i {
		t.Error("the gap's alert does not come before the row after the gap")
	}
	// Row 15 is gone for good; every other row arrived once, in order.
	for _, ch := range []string{idSecurity, idInfra} {
		cnt, _ := testenv.CountMarkers(texts(s, ch))
		for _, n := range routedMarkers(ch, 0, 40) {
			if want := 1 - btoi(n == 15); cnt[n] != want {
				t.Errorf("%s: row %d arrived %d times, want %d", ch, n, cnt[n], want)
			}
		}
	}
	if v := d.MustMetric("auditfwd_chain_breaks_total"); v != 2 {
		t.Errorf("auditfwd_chain_breaks_total = %v, want 2", v)
	}
	if n := strings.Count(d.Output(), "the gateway's audit chain is broken"); n != 2 {
		t.Errorf("%d log lines about the broken chain, want 2", n)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The database stopped for 10 s and started again: the leader says the
// source is down, stops leading, and afterwards delivers every row once
// (rows written before the outage and after it).
func TestPostgresOutageLosesNothing(t *testing.T) {
	c, err := gatewaydb.Start() // its own server: it is stopped
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	db := c.DB(t)
	gw := gateway(t, c, db)
	s := newSlack(t)
	s.SetRateLimit(100 * time.Millisecond) // rows still queued when the database stops
	d := newPGDaemon(t, s, c, db, botToken, testenv.Options{})
	d.Start()
	appendRows(t, gw, 0, 100, 0)
	testenv.Eventually(t, 30*time.Second, "the first deliveries", func() bool { return len(s.Posts()) > 0 })
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	testenv.Eventually(t, 15*time.Second, "source down, not leading", func() bool {
		up, _ := d.Metric("auditfwd_source_up")
		leader, _ := d.Metric("auditfwd_leader")
		return up == 0 && leader == 0
	})
	time.Sleep(time.Until(stopped.Add(10 * time.Second))) // the outage lasts 10 s, as the issue says
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	gw = gateway(t, c, db) // the old session ended with the server
	appendRows(t, gw, 100, 150, 0)
	testenv.Eventually(t, 60*time.Second, "every row after the outage", func() bool { return delivered(s, 0, 150) })
	checkMixed(t, s, 0, 150, func(ch string, dups []int) bool {
		// The messages in flight when the database stopped may repeat:
		// at most one per channel, so the repeats are one post's events.
		return inOnePost(s, ch, dups)
	})
	if !strings.Contains(d.Output(), "cannot reach the gateway's database") {
		t.Error("the outage is not in the log")
	}
	if v := d.MustMetric("auditfwd_source_up"); v != 1 {
		t.Errorf("auditfwd_source_up = %v after the outage", v)
	}
}

// inOnePost reports whether every marker of dups is in one post to channel.
func inOnePost(s *fakeslack.Server, channel string, dups []int) bool {
	for _, p := range s.Posts() {
		if p.Channel != channel {
			continue
		}
		c, _ := testenv.CountMarkers([]string{p.AllText()})
		all := true
		for _, n := range dups {
			all = all && c[n] > 0
		}
		if all {
			return true
		}
	}
	return false
}

var _ = sync.Mutex{}
var _ = syscall.SIGKILL
