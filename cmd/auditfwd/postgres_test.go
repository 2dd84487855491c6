package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/gatewaydb"
	"github.com/auditfwd/auditfwd/internal/pgstate"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// pg is the PostgreSQL server the package's tests share (a database each);
// TestMain (main_test.go) stops it.
var pg gatewaydb.Lazy

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

// pgSetUp is a test's database with the gateway writing to it, and a fake Slack.
func pgSetUp(t *testing.T) (*gatewaydb.Cluster, string, *gatewaydb.Gateway, *fakeslack.Server) {
	t.Helper()
	c := pg.Get(t)
	db := c.DB(t)
	return c, db, gateway(t, c, db), newSlack(t)
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
			if seen[n] || n < from || n >= to {
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
	t.Parallel()
	c, db, gw, s := pgSetUp(t)
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
	out, err := pgstate.Indexes(ctx, conn.PgConn(), "auditfwd")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A row deleted from the middle and a row whose previous_hash is broken:
// one auditfwd.chain_broken alert each, to the first channel (no rule names
// the action), naming the last good and the first index after; the rows
// after them are delivered.
func TestPostgresChainBreaksAreAlertedOnce(t *testing.T) {
	t.Parallel()
	c, db, gw, s := pgSetUp(t)
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
	t.Parallel()
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
	d.WaitOutput("cannot reach the gateway's database") // the outage is in the log
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

// approvalRow is a deploy approval request's event as the gateway records
// it, carrying marker n.
func approvalRow(verb string, request int, who person, n int) gatewaydb.Event {
	return gatewaydb.Event{UserEmail: who.email, UserName: who.name, ActionType: "gateway", Status: "success",
		Action: "deploy_approval_request." + verb, Resource: fmt.Sprint(request), ResourceType: "deploy_approval_request",
		RequestID: testenv.Marker(n), Details: `{"git_branch":"feature/ha","git_commit_hash":"4c1d2e9","message":"Release request"}`}
}

// Two instances on one database: the standby is ready and silent; the
// leader is killed with kill -9 in the middle of 200 rows written at 50/s
// (or its database session is ended while it runs); the standby takes over
// within 15 s; nothing is lost and only what was in flight is repeated; a
// deploy approval thread the leader opened is continued by the new one (a
// reply under the same parent, the parent edited). Swept over where the
// fault lands.
func TestPostgresFailover(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		at      int
		session bool // end the leader's database session instead of killing it
	}{{60, false}, {130, false}, {100, true}} {
		name := fmt.Sprintf("kill -9 after %d rows", tt.at)
		if tt.session {
			name = fmt.Sprintf("session ended after %d rows", tt.at)
		}
		t.Run(name, func(t *testing.T) { failover(t, tt.at, tt.session) })
	}
}

// endLeaderSession terminates the backend holding db's leader lock, as a
// database failover or an administrator would.
func endLeaderSession(t *testing.T, c *gatewaydb.Cluster, db string) {
	t.Helper()
	err := c.Exec(context.Background(), db, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if err != nil {
		t.Fatal(err)
	}
}

func failover(t *testing.T, killAt int, sessionOnly bool) {
	c, db, gw, s := pgSetUp(t)
	const tokA, tokB = "xoxb-instance-a", "xoxb-instance-b"
	o := testenv.Options{Extra: alertsOn}
	a := newPGDaemon(t, s, c, db, tokA, o)
	b := newPGDaemon(t, s, c, db, tokB, o)
	a.Start()
	waitMetric(t, a, "a leads", 1, "auditfwd_leader")
	b.Start() // returns once /readyz answers 200
	if v := b.MustMetric("auditfwd_leader"); v != 0 {
		t.Fatalf("the standby says auditfwd_leader %v", v)
	}
	waitMetric(t, b, "the standby sees the database", 1, "auditfwd_source_up")

	// A deploy approval request's thread, opened by the leader.
	if _, err := gw.Append(context.Background(), approvalRow("create", 77, bob, 9000)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the request's parent", func() bool { return len(parentsOf(s, idDeploy, 77)) == 1 })
	parent := parentsOf(s, idDeploy, 77)[0]

	// 200 rows at 50/s; the leader killed in the middle.
	var killed time.Time
	killedCh, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		appendRows(t, gw, 0, killAt, 20*time.Millisecond)
		if sessionOnly {
			endLeaderSession(t, c, db)
		} else {
			a.Kill()
		}
		killed = time.Now()
		close(killedCh)
		appendRows(t, gw, killAt, 200, 20*time.Millisecond)
	}()
	<-killedCh
	took := 0 * time.Second
	testenv.Eventually(t, 15*time.Second-time.Since(killed), "the standby takes over within 15 s of the kill", func() bool {
		v, _ := b.Metric("auditfwd_leader")
		took = time.Since(killed)
		return v == 1
	})
	t.Logf("the standby led %v after the fault", took.Round(time.Millisecond))
	<-done
	testenv.Eventually(t, 60*time.Second, "every row", func() bool { return delivered(s, 0, 200) })

	// The standby made no Slack call before it led; A none after it died
	// (when only its session ended, at most the one message per channel it
	// posted before it noticed, which the repeats below account for).
	afterA := map[string]int{}
	for _, p := range s.Posts() {
		switch {
		case p.Token == tokB && p.Time.Before(killed):
			t.Errorf("the standby posted before the fault: %q", p.Text)
		case p.Token == tokA && p.Time.After(killed):
			afterA[p.Channel]++
		}
	}
	for ch, n := range afterA {
		if !sessionOnly || n > 1 {
			t.Errorf("the old leader posted %d messages to %s after the fault", n, ch)
		}
	}
	if sessionOnly {
		// A lives on as a standby.
		waitMetric(t, a, "the old leader stands by", 0, "auditfwd_leader")
		waitMetric(t, a, "the old leader reaches the database", 1, "auditfwd_source_up")
	}
	// Repeats: only the events of the one message per channel the old
	// leader had in flight (Slack took it; the cursor did not move yet).
	checkMixed(t, s, 0, 200, func(ch string, dups []int) bool {
		var last fakeslack.Post
		for _, p := range s.Posts() {
			if p.Channel == ch && p.Token == tokA {
				last = p
			}
		}
		cnt, _ := testenv.CountMarkers([]string{last.AllText()})
		for _, n := range dups {
			if cnt[n] == 0 {
				return false
			}
		}
		t.Logf("%s: %d events of the message in flight repeated", ch, len(dups))
		return true
	})

	// The thread goes on under the new leader.
	if _, err := gw.Append(context.Background(), approvalRow("approve", 77, alice, 9001)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the approval's reply", func() bool { return len(s.Replies(idDeploy, parent.TS)) == 1 })
	reply := s.Replies(idDeploy, parent.TS)[0]
	if !strings.Contains(reply.Text, testenv.Marker(9001)) {
		t.Errorf("the reply is %q", reply.Text)
	}
	testenv.Eventually(t, 20*time.Second, "the parent edited", func() bool {
		m, _ := s.Message(idDeploy, parent.TS)
		return m.Edits >= 1 && strings.Contains(m.Text, "approved by Alice Admin")
	})
	if n := len(parentsOf(s, idDeploy, 77)); n != 1 {
		t.Errorf("request 77 has %d parents, want its one thread", n)
	}
	if v := b.MetricSum("auditfwd_slack_request_duration_seconds"); v == 0 {
		t.Error("the new leader counted no Slack requests")
	}
}

// check --connect says what the role can and cannot do, with the fix,
// never showing the DSN's password; it exits 1 when auditfwd could not run.
func TestPostgresCheckConnect(t *testing.T) {
	t.Parallel()
	c := pg.Get(t)
	ctx := context.Background()
	s := newSlack(t)
	run := func(db, dsn string) (string, int) {
		t.Helper()
		d := newPGDaemon(t, s, c, db, botToken, testenv.Options{})
		d.Env = append(d.Env, "AUDITFWD_POSTGRES_DSN="+dsn) // the last one wins
		out, errOut, code := d.Run("check", "--connect")
		if strings.Contains(out+errOut, gatewaydb.AuditfwdPassword) || strings.Contains(out+errOut, "wrong-Pw-1234") {
			t.Errorf("a password is in the output:\n%s%s", out, errOut)
		}
		return out + errOut, code
	}

	db := c.DB(t) // the state schema exists, owned by auditfwd
	gw := gateway(t, c, db)
	appendRows(t, gw, 0, 3, 0)
	out, code := run(db, c.AuditfwdDSN(db))
	for _, want := range []string{"ok    connected to database " + db + " as role auditfwd", "ok    can read audit.audit_event: rows up to chain_index 2",
		"ok    state_schema auditfwd exists; auditfwd may use it and create tables in it", "ok    table auditfwd.delivery_cursor will be created",
		"ok    leader lock (", "free; the first instance"} {
		if !strings.Contains(out, want) {
			t.Errorf("all granted: output lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("all granted: exit %d", code)
	}

	// A leader running: the lock's holder is named; the tables exist.
	leader := newPGDaemon(t, s, c, db, botToken, testenv.Options{})
	leader.Start()
	waitMetric(t, leader, "it leads", 1, "auditfwd_leader")
	out, _ = run(db, c.AuditfwdDSN(db))
	for _, want := range []string{"held by auditfwd ", "ok    table auditfwd.delivery_cursor: auditfwd can read and write it", "ok    table auditfwd.thread: auditfwd can read and write it"} {
		if !strings.Contains(out, want) {
			t.Errorf("with a leader: output lacks %q:\n%s", want, out)
		}
	}

	// No schema and no right to create one.
	bare, err := c.CreateDatabase(ctx, "bare", "", false)
	if err != nil {
		t.Fatal(err)
	}
	out, code = run(bare, c.AuditfwdDSN(bare))
	if code != 1 || !strings.Contains(out, "FAIL  state_schema auditfwd does not exist and auditfwd may not create it: CREATE SCHEMA auditfwd AUTHORIZATION auditfwd") {
		t.Errorf("no schema: exit %d:\n%s", code, out)
	}
	// No schema, but the right to create it.
	if err := c.Exec(ctx, bare, "GRANT CREATE ON DATABASE "+bare+" TO auditfwd"); err != nil {
		t.Fatal(err)
	}
	out, code = run(bare, c.AuditfwdDSN(bare))
	if code != 0 || !strings.Contains(out, "state_schema auditfwd does not exist; it will be created by the first leader") {
		t.Errorf("may create: exit %d:\n%s", code, out)
	}
	// A role that is not audit_reader, and a wrong password.
	role := bare + "_outsider"
	if err := c.Exec(ctx, "postgres", "CREATE ROLE "+role+" LOGIN PASSWORD 'outsider-pw'"); err != nil {
		t.Fatal(err)
	}
	out, code = run(bare, c.DSN(role, "outsider-pw", bare))
	if code != 1 || !strings.Contains(out, "FAIL  cannot read audit.audit_event: ERROR: permission denied for schema audit") || !strings.Contains(out, "GRANT audit_reader TO "+role) {
		t.Errorf("not a reader: exit %d:\n%s", code, out)
	}
	out, code = run(bare, c.DSN("auditfwd", "wrong-Pw-1234", bare))
	if code != 1 || !strings.Contains(out, "password authentication failed") {
		t.Errorf("wrong password: exit %d:\n%s", code, out)
	}
}

// route --replay-db N routes the table's last N rows as the daemon would,
// a break in the chain included; with --diff it compares two configs.
func TestPostgresRouteReplayDB(t *testing.T) {
	t.Parallel()
	c := pg.Get(t)
	db := c.DB(t)
	gw := gateway(t, c, db)
	appendRows(t, gw, 0, 10, 0)
	if err := c.Tamper(context.Background(), db, "DELETE FROM audit.audit_event WHERE chain_index = 7"); err != nil {
		t.Fatal(err)
	}
	d := newPGDaemon(t, newSlack(t), c, db, botToken, testenv.Options{})
	out, errOut, code := d.Run("route", "--replay-db", "5")
	got := strings.Split(strings.TrimSpace(out), "\n")
	wantLines := []string{
		"deploy_approval_request.create infrastructure", // row 4
		"login.complete security",                       // row 5
		"release.promote infrastructure",                // row 6
		"auditfwd.chain_broken security (the first channel: no rule routes it)",
		"login.oauth_failed security",                   // row 8
		"deploy_approval_request.create infrastructure", // row 9
	}
	if code != 0 || strings.Join(got, "|") != strings.Join(wantLines, "|") {
		t.Errorf("route --replay-db 5: exit %d\n%s%s\nwant\n%s", code, out, errOut, strings.Join(wantLines, "\n"))
	}
	old := configFile(t, "channels:\n  - name: security\n    slack_channel: \"#security\"\n    actions: [\"login.*\"]\n")
	out, errOut, code = d.Run("route", "--diff", old, "--replay-db", "9")
	for _, w := range []string{"in the last 9 rows of the audit table", "infrastructure       0       4", "chain_index 9 deploy_approval_request.create: none -> infrastructure"} {
		if !strings.Contains(out, w) {
			t.Errorf("--diff --replay-db lacks %q: exit %d\n%s%s", w, code, out, errOut)
		}
	}
}

// A reload while leading routes the next rows by the new rules, and a new
// channel starts where the leader has read (no old rows for it); a standby
// keeps the reloaded rules for when it leads.
func TestPostgresReload(t *testing.T) {
	t.Parallel()
	c, db, gw, s := pgSetUp(t)
	const tokA, tokB = "xoxb-reload-a", "xoxb-reload-b"
	a := newPGDaemon(t, s, c, db, tokA, testenv.Options{})
	b := newPGDaemon(t, s, c, db, tokB, testenv.Options{})
	a.Start()
	waitMetric(t, a, "a leads", 1, "auditfwd_leader")
	b.Start()
	appendRows(t, gw, 0, 10, 0)
	testenv.Eventually(t, 30*time.Second, "the first rows", func() bool { return delivered(s, 0, 10) })

	ops := "\n  - name: ops\n    slack_channel: \"#ops\"\n    actions: [app.read]\n"
	for _, d := range []*testenv.Daemon{a, b} {
		cfg, err := os.ReadFile(d.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		d.WriteConfig(string(cfg) + "channels:\n  - name: security\n    slack_channel: \"#security\"\n    actions: [\"login.*\"]" + ops)
		d.Signal(syscall.SIGHUP)
	}
	testenv.Eventually(t, 20*time.Second, "both reloaded", func() bool {
		return strings.Contains(a.Output(), "its rules are in force") && strings.Contains(b.Output(), "its rules are in force")
	})
	appendRows(t, gw, 10, 20, 0) // rows 12 and 17 are app.read
	testenv.Eventually(t, 30*time.Second, "app.read in #ops", func() bool {
		cnt, _ := testenv.CountMarkers(texts(s, idOps))
		return cnt[12] == 1 && cnt[17] == 1
	})
	if cnt, _ := testenv.CountMarkers(texts(s, idOps)); cnt[2] != 0 || cnt[7] != 0 {
		t.Errorf("rows read before the reload went to the new channel: %v", cnt)
	}
	testenv.Eventually(t, 10*time.Second, "the new channel's cursor", func() bool { return cursors(t, c, db)["ops"] >= 17 })

	// The standby leads with the rules it reloaded.
	a.Kill()
	waitMetric(t, b, "b leads", 1, "auditfwd_leader")
	appendRows(t, gw, 20, 25, 0) // row 22 is app.read
	testenv.Eventually(t, 30*time.Second, "the new leader routes by the reloaded rules", func() bool {
		cnt, _ := testenv.CountMarkers(texts(s, idOps))
		return cnt[22] == 1
	})
}
