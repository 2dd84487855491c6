package pgstate

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditfwd/auditfwd/internal/gatewaydb"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/pgsource"
	"github.com/auditfwd/auditfwd/internal/testenv"
	"github.com/auditfwd/auditfwd/internal/threads"
)

var pg gatewaydb.Lazy

func TestMain(m *testing.M) { pg.Main(m) }

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"failed to connect to postgres://fwd:hunter22@db:5432/gw":     "failed to connect to postgres://fwd:xxxxx@db:5432/gw",
		"cannot parse host=db password=hunter22 user=fwd":             "cannot parse host=db password=xxxxx user=fwd",
		"cannot parse host=db password='hunter 22' user=fwd":          "cannot parse host=db password=xxxxx user=fwd",
		"postgres://db/gw?sslmode=disable&password=hunter22&x=1":      "postgres://db/gw?sslmode=disable&password=xxxxx&x=1",
		"the server said hunter22 is wrong (password authentication)": "the server said xxxxx is wrong (password authentication)",
	} {
		if got := Redact(in, "hunter22"); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
	for _, dsn := range []string{"postgres://fwd:s3cr3t-pw@db:notaport/gw", "host=db port=x password=s3cr3t-pw", "postgres://fwd:s3cr3t-pw@[::1/gw"} {
		_, err := ParseDSN(dsn)
		if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
			t.Errorf("ParseDSN(bad DSN) = %v: no error, or the password shows", err)
		}
	}
}

// The session reads timestamps in the one format pgtext decodes, whatever
// the DSN asks, and pgx's own DSN settings do not reach the server.
func TestParseDSNSessionSettings(t *testing.T) {
	cfg, err := ParseDSN("host=db user=fwd timezone=Europe/Paris datestyle=German statement_cache_capacity=10 application_name=x search_path=s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DateStyle": "ISO", "TimeZone": "UTC", "application_name": "x", "search_path": "s"}
	if !maps.Equal(cfg.RuntimeParams, want) {
		t.Errorf("RuntimeParams = %v, want %v", cfg.RuntimeParams, want)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// A password that the server refuses is never shown, and neither is the DSN.
func TestConnectErrorHidesThePassword(t *testing.T) {
	c := pg.Get(t)
	db := c.DB(t)
	_, err := Connect(ctxT(t, time.Minute), c.DSN("auditfwd", "wrong-Secret-99", db))
	if err == nil || strings.Contains(err.Error(), "wrong-Secret-99") || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("err = %v", err)
	}
}

// elector runs an Elector whose lead records its terms and holds until
// its context ends.
type elector struct {
	e       *Elector
	leading atomic.Bool
	terms   atomic.Int32
	cancel  context.CancelFunc
	done    chan struct{}
	session atomic.Pointer[Session]
}

func runElector(t *testing.T, dsn string) *elector {
	el := &elector{done: make(chan struct{})}
	el.e = &Elector{DSN: dsn, Schema: "auditfwd", TryEvery: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New("test")}
	ctx, cancel := context.WithCancel(context.Background())
	el.cancel = cancel
	go func() {
		defer close(el.done)
		el.e.Run(ctx, func(ctx context.Context, s *Session) error {
			el.terms.Add(1)
			el.session.Store(s)
			el.leading.Store(true)
			<-ctx.Done()
			el.leading.Store(false)
			return nil
		})
	}()
	t.Cleanup(el.stop)
	return el
}

func (el *elector) stop() {
	el.cancel()
	<-el.done
}

// One of two instances leads; when its session ends the other takes over
// at once; when the database stops, nobody leads, and afterwards one does.
func TestOneLeaderAndTakeover(t *testing.T) {
	c := pg.Get(t)
	db := c.DB(t)
	a := runElector(t, c.AuditfwdDSN(db))
	testenv.Eventually(t, 10*time.Second, "a leads", a.leading.Load)
	b := runElector(t, c.AuditfwdDSN(db))
	testenv.Eventually(t, 10*time.Second, "b stands by", func() bool {
		v := b.e.Metrics
		return gauge(t, v.SourceUp) == 1 && gauge(t, v.Leader) == 0
	})
	if b.leading.Load() || gauge(t, a.e.Metrics.Leader) != 1 {
		t.Fatal("two leaders, or a does not say it leads")
	}
	// The leader's backend is terminated (as a failover or an admin would).
	pid := a.session.Load().PID()
	if err := c.Exec(ctxT(t, time.Minute), "postgres", "SELECT pg_terminate_backend($1)", int(pid)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	testenv.Eventually(t, 15*time.Second, "b takes over", b.leading.Load)
	t.Logf("takeover after the leader's session ended: %v", time.Since(start))
	testenv.Eventually(t, 10*time.Second, "a stopped leading", func() bool { return !a.leading.Load() })
	if a.leading.Load() && b.leading.Load() {
		t.Fatal("two leaders")
	}
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}

// The database stopped: the leader stops leading and says the source is
// down; started again, an instance leads again.
func TestDatabaseOutage(t *testing.T) {
	c, err := gatewaydb.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	db, err := c.CreateDatabase(ctxT(t, time.Minute), "outage", "auditfwd", false)
	if err != nil {
		t.Fatal(err)
	}
	a := runElector(t, c.AuditfwdDSN(db))
	testenv.Eventually(t, 10*time.Second, "a leads", a.leading.Load)
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 15*time.Second, "a stopped leading, source down", func() bool {
		return !a.leading.Load() && gauge(t, a.e.Metrics.SourceUp) == 0 && gauge(t, a.e.Metrics.Leader) == 0
	})
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "a leads again", func() bool {
		return a.leading.Load() && gauge(t, a.e.Metrics.SourceUp) == 1
	})
	if a.terms.Load() != 2 {
		t.Errorf("%d terms, want 2", a.terms.Load())
	}
}

// lead runs f as the leader of db, with state_schema prepared.
func lead(t *testing.T, dsn string, f func(ctx context.Context, s *Session)) {
	t.Helper()
	done := make(chan struct{})
	e := &Elector{DSN: dsn, Schema: "auditfwd", TryEvery: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler), Metrics: metrics.New("test")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ferr error
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		e.Run(ctx, func(ctx context.Context, s *Session) error {
			defer close(done)
			defer cancel()
			if ferr = Prepare(ctx, s, "auditfwd"); ferr == nil {
				f(ctx, s)
			}
			return nil
		})
	}()
	select {
	case <-done:
		<-ran // the session is closed: the lock is free
	case <-time.After(time.Minute):
		t.Fatal("never led")
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
}

// Cursors: the first leader starts per start_at and writes a cursor for
// every channel; a delivery moves one cursor at once; an idle channel
// follows the read position; the next leader starts at the lowest cursor
// and knows what each channel delivered.
func TestCursors(t *testing.T) {
	c := pg.Get(t)
	db := c.DB(t)
	dsn := c.AuditfwdDSN(db)
	lead(t, dsn, func(ctx context.Context, s *Session) {
		cur, err := LoadCursors(ctx, s, "auditfwd", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		after, err := cur.Start(ctx, []string{"security", "infrastructure"}, func() (int64, error) { return 9, nil })
		if err != nil || after != 9 {
			t.Fatalf("first start after %d (%v), want 9 (start_at end)", after, err)
		}
		queued := map[string]int{"security": 1}
		var mu sync.Mutex
		cur.SetQueued(func(ch string) int { mu.Lock(); defer mu.Unlock(); return queued[ch] })
		cur.Committed(pgsource.RowPos(30))
		cur.Acked("security", pgsource.RowPos(12)) // written before it returns
		cur.idle()
		if err := cur.flush(ctx, true); err != nil {
			t.Fatal(err)
		}
		if !cur.Delivered("security", pgsource.RowPos(12)) || cur.Delivered("security", pgsource.BreakPos(13)) || !cur.Delivered("infrastructure", pgsource.RowPos(30)) {
			t.Error("Delivered disagrees with the cursors")
		}
	})
	got := cursorRows(t, c, db)
	want := map[string]int64{"*": 30, "security": 12, "infrastructure": 30}
	for ch, idx := range want {
		if got[ch] != idx {
			t.Errorf("cursor rows %v, want %v", got, want)
			break
		}
	}
	lead(t, dsn, func(ctx context.Context, s *Session) {
		cur, err := LoadCursors(ctx, s, "auditfwd", slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		after, err := cur.Start(ctx, []string{"security", "infrastructure", "new"}, func() (int64, error) { t.Error("first called again"); return 0, nil })
		if err != nil || after != 12 {
			t.Fatalf("second start after %d (%v), want 12 (the lowest cursor)", after, err)
		}
		if !cur.Delivered("new", pgsource.RowPos(30)) || cur.Delivered("new", pgsource.BreakPos(31)) || !cur.Delivered("infrastructure", pgsource.RowPos(20)) || cur.Delivered("security", pgsource.RowPos(13)) {
			t.Error("Delivered after a takeover disagrees with the cursors")
		}
		// A cursor never moves back.
		cur.mu.Lock()
		cur.cur["security"] = pgsource.RowPos(5)
		cur.mu.Unlock()
		cur.flush(ctx, false)
	})
	if got := cursorRows(t, c, db); got["security"] != 12 || got["new"] != 30 {
		t.Errorf("cursor rows after the second leader %v", got)
	}
}

func cursorRows(t *testing.T, c *gatewaydb.Cluster, db string) map[string]int64 {
	t.Helper()
	ctx := ctxT(t, time.Minute)
	conn, err := c.Admin(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out, err := Indexes(ctx, conn.PgConn(), "auditfwd")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Threads saved by one leader are loaded by the next, and forgotten ones
// are gone; a session that lost the lock cannot write.
func TestThreadsRecords(t *testing.T) {
	c := pg.Get(t)
	db := c.DB(t)
	dsn := c.AuditfwdDSN(db)
	th := threads.Thread{Channel: "deploy_approval_alerts", Key: "request:42", SlackChannel: "C1", TS: "1700000000.000100", Approval: true, Count: 2,
		First: []byte(`{"b":1,"a":"keep my order"}`), LastPos: logpos.Position{Gen: 1, Offset: 85}, Request: &threads.Request{ID: "42", State: threads.Approved}}
	var lost *Session
	lead(t, dsn, func(ctx context.Context, s *Session) {
		rec := NewThreads(s, "auditfwd")
		if err := rec.Save(ctx, th); err != nil {
			t.Fatal(err)
		}
		other := th
		other.Key = "request:43"
		if err := rec.Save(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := rec.Forget(ctx, other.Channel, other.Key); err != nil {
			t.Fatal(err)
		}
		lost = s
	})
	testenv.Eventually(t, 10*time.Second, "the old session closed", func() bool { return lost.Err() != nil || lost.conn.IsClosed() })
	if err := NewThreads(lost, "auditfwd").Save(context.Background(), th); err == nil {
		t.Error("a session that is no longer the leader's saved a thread")
	}
	lead(t, dsn, func(ctx context.Context, s *Session) {
		got, err := NewThreads(s, "auditfwd").Load(ctx)
		if err != nil || len(got) != 1 {
			t.Fatalf("loaded %+v, %v", got, err)
		}
		g := got[0]
		if g.Key != th.Key || g.TS != th.TS || string(g.First) != string(th.First) || g.LastPos != th.LastPos || g.Request == nil || g.Request.State != threads.Approved {
			t.Errorf("loaded %+v, want %+v", g, th)
		}
	})
}

// state_schema: used when it exists, created when absent and the role may,
// and otherwise an error that says what to grant.
func TestPrepare(t *testing.T) {
	c := pg.Get(t)
	ctx := ctxT(t, time.Minute)
	for _, tt := range []struct {
		name           string
		schema, create bool
		wantErr        string
	}{
		{"schema exists", true, false, ""},
		{"created", false, true, ""},
		{"no right to create", false, false, "CREATE SCHEMA auditfwd AUTHORIZATION"},
	} {
		schema := ""
		if tt.schema {
			schema = "auditfwd"
		}
		db, err := c.CreateDatabase(ctx, "prepare", schema, tt.create)
		if err != nil {
			t.Fatal(err)
		}
		conn, err := Connect(ctx, c.AuditfwdDSN(db))
		if err != nil {
			t.Fatal(err)
		}
		s := newSession(conn, slog.New(slog.DiscardHandler), nil)
		err = Prepare(ctx, s, "auditfwd")
		if err == nil {
			err = Prepare(ctx, s, "auditfwd") // again: nothing to do
		}
		switch {
		case tt.wantErr == "" && err != nil, tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %v", tt.name, err)
		}
		conn.Close(ctx)
		c.DropDatabase(ctx, db)
	}
}
