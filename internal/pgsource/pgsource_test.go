package pgsource

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/gatewaydb"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

var pg gatewaydb.Lazy

func TestMain(m *testing.M) { pg.Main(m) }

func str(s string) *string { return &s }

func TestRowEvent(t *testing.T) {
	ts := time.Date(2026, 3, 20, 1, 20, 0, 123456000, time.UTC)
	id := int64(7)
	ip := netip.MustParsePrefix("203.0.113.7/32")
	status := int32(200)
	r := Row{ID: 1234, Timestamp: ts, ChainIndex: 41, UserEmail: "alice@example.com", UserName: str("Alice <Admin>"),
		APITokenID: &id, ActionType: "auth", Action: "mfa_method.enroll", Details: str(`{"method": "totp", "label":"phone"}`),
		IPAddress: &ip, Status: "success", HTTPStatus: &status, ResponseTimeMS: 12, EventCount: 1, RequestID: str("req-1")}
	got := string(r.Event())
	want := `{"action":"mfa_method.enroll","action_type":"auth","api_token_id":7,"chain_index":41,"details":{"method":"totp","label":"phone"},"event_count":1,"http_status":200,"id":1234,"ip_address":"203.0.113.7","latency_ms":12,"request_id":"req-1","status":"success","timestamp":"2026-03-20T01:20:00.123456Z","user_email":"alice@example.com","user_name":"Alice \u003cAdmin\u003e"}`
	if got != want {
		t.Errorf("event:\n got %s\nwant %s", got, want)
	}
	ev, err := event.Parse([]byte(got))
	if err != nil || ev.Action != "mfa_method.enroll" || !ev.Time.Equal(ts) || ev.Get("details") != `{"method":"totp","label":"phone"}` || ev.Get("user_name") != "Alice <Admin>" {
		t.Errorf("parsed: %+v, %v", ev, err)
	}

	// Details that are not JSON stay text; a network keeps its mask; a
	// hostile nesting stays text, so the line stays readable.
	net := netip.MustParsePrefix("10.0.0.0/8")
	r = Row{Timestamp: ts, Action: "x", ActionType: "admin", Status: "error", Details: str("not {json"), IPAddress: &net}
	var m map[string]any
	if err := json.Unmarshal(r.Event(), &m); err != nil || m["details"] != "not {json" || m["ip_address"] != "10.0.0.0/8" {
		t.Errorf("text details, network: %v (%v)", m, err)
	}
	deep := strings.Repeat("[", 300) + strings.Repeat("]", 300)
	r.Details = &deep
	if kind, _ := event.Classify(r.Event()); kind != event.KindEvent {
		t.Errorf("deeply nested details: the line is %v", kind)
	}
	for _, k := range []string{"command", "resource", "user_agent", "rbac_decision", "api_token_name", "deploy_approval_request_id"} {
		if _, ok := m[k]; ok {
			t.Errorf("NULL column %s is in the event", k)
		}
	}
}

func TestPositions(t *testing.T) {
	for _, i := range []int64{0, 1, 41, 1 << 40} {
		if !BreakPos(i).Less(RowPos(i)) || !RowPos(i-1).Less(BreakPos(i)) || IndexOf(RowPos(i)) != i || IndexOf(BreakPos(i)) != i-1 {
			t.Errorf("positions around row %d out of order", i)
		}
	}
	if IndexOf(logpos.Position{}) != -1 {
		t.Error("before any row")
	}
}

func TestBreakReasons(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		b    Break
		want string
	}{
		{Break{LastGood: 9, FirstAfter: 11, Missing: 1, At: at}, "row 10 is missing between rows 9 and 11"},
		{Break{LastGood: 9, FirstAfter: 13, Missing: 3, At: at}, "rows 10 to 12 (3 rows) are missing between rows 9 and 13"},
		{Break{LastGood: 14, FirstAfter: 15, At: at}, "the previous_hash of row 15 is not the event_hash of row 14"},
		{Break{LastGood: -1, FirstAfter: 2, Missing: 2, At: at}, "rows 0 to 1 are missing"},
	} {
		if !strings.Contains(tt.b.Reason(), tt.want) {
			t.Errorf("%+v: %q", tt.b, tt.b.Reason())
		}
		ev, err := event.Parse(tt.b.Event())
		if err != nil || ev.Action != BrokenAction || ev.Get("status") != "alert" || ev.Get("first_index_after") == "" || !ev.Time.Equal(at) {
			t.Errorf("alert event %s: %+v %v", tt.b.Event(), ev, err)
		}
		if (ev.Get("last_good_index") != "") != (tt.b.LastGood >= 0) {
			t.Errorf("last_good_index in %s", tt.b.Event())
		}
	}
}

// session is the simplest Session: one connection behind a mutex.
type session struct {
	mu   sync.Mutex
	conn *pgconn.PgConn
}

func (s *session) Do(ctx context.Context, f func(context.Context, *pgconn.PgConn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(context.WithoutCancel(ctx), s.conn)
}

// handler keeps what it is given, as committed and not.
type handler struct {
	mu        sync.Mutex
	pending   []item
	committed []item
	failNext  int
}

type item struct {
	line  string
	pos   logpos.Position
	alert bool
}

func (h *handler) Line(line []byte, end logpos.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, item{string(line), end, false})
}

func (h *handler) Alert(line []byte, end logpos.Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = append(h.pending, item{string(line), end, true})
}

func (h *handler) Commit() (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failNext > 0 {
		h.failNext--
		return false, os.ErrPermission
	}
	h.committed = append(h.committed, h.pending...)
	h.pending = nil
	return true, nil
}

func (h *handler) Sync() error { return nil }

func (h *handler) Rollback() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pending = nil
}

func (h *handler) items() []item {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]item(nil), h.committed...)
}

// setUp is a test's database holding n rows, the gateway connected to it
// and a connection as auditfwd's role.
func setUp(t *testing.T, n int) (*gatewaydb.Cluster, string, *gatewaydb.Gateway, *pgconn.PgConn, []gatewaydb.Row) {
	t.Helper()
	c := pg.Get(t)
	db := c.DB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gw, err := c.Gateway(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	rows := make([]gatewaydb.Row, n)
	for i := range rows {
		if rows[i], err = gw.Append(ctx, login(i)); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgconn.Connect(ctx, c.AuditfwdDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return c, db, gw, conn, rows
}

func login(n int) gatewaydb.Event {
	return gatewaydb.Event{UserEmail: "u@example.com", ActionType: "auth", Action: "login.complete", Status: "success", Resource: testenv.Marker(n)}
}

// The reader hands over every row in order, once, while rows keep coming;
// a deleted row and a broken link each become one alert right before the
// row after them, and reading goes on; a failed commit reads the batch
// again.
func TestReaderFollowsTheChain(t *testing.T) {
	c, db, _, conn, _ := setUp(t, 30)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := metrics.New("test")
	h := &handler{failNext: 1}
	var committed []logpos.Position
	var cmu sync.Mutex
	rd := New(Options{Session: &session{conn: conn}, PollInterval: 20 * time.Millisecond, Batch: 7, Metrics: m, GapGrace: 50 * time.Millisecond,
		Committed: func(p logpos.Position) { cmu.Lock(); committed = append(committed, p); cmu.Unlock() }})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rd.Run(rctx, h, 4) }() // rows 0 to 4 were delivered before
	testenv.Eventually(t, time.Minute, "rows up to 29", func() bool {
		its := h.items()
		return len(its) > 0 && its[len(its)-1].pos == RowPos(29)
	})
	// 30 more rows, row 40 deleted and row 50's link broken, all visible at once.
	err := c.Tx(ctx, db, func(tx pgx.Tx) error {
		for i := 30; i < 60; i++ {
			if _, err := gatewaydb.AppendTx(ctx, tx, login(i)); err != nil {
				return err
			}
		}
		return gatewaydb.TamperTx(ctx, tx, "DELETE FROM audit.audit_event WHERE chain_index = 40",
			"UPDATE audit.audit_event SET previous_hash = '\\xdeadbeef' WHERE chain_index = 50")
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, time.Minute, "every row handed over", func() bool {
		its := h.items()
		return len(its) > 0 && its[len(its)-1].pos == RowPos(59)
	})
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}

	var got []string
	for _, it := range h.items() {
		if it.alert {
			ev, _ := event.Parse([]byte(it.line))
			got = append(got, "alert "+ev.Get("last_good_index")+"-"+ev.Get("first_index_after"))
			if it.pos != BreakPos(mustAtoi(t, ev.Get("first_index_after"))) {
				t.Errorf("alert at %v", it.pos)
			}
			continue
		}
		i := IndexOf(it.pos)
		if !strings.Contains(it.line, testenv.Marker(int(i))) || !strings.Contains(it.line, fmt.Sprintf(`"chain_index":%d,`, i)) {
			t.Errorf("row %d is %s", i, it.line)
		}
		got = append(got, fmt.Sprint(i))
	}
	var want []string
	for i := 5; i < 60; i++ {
		switch i {
		case 40:
			continue
		case 41:
			want = append(want, "alert 39-41")
		case 50:
			want = append(want, "alert 49-50")
		}
		want = append(want, fmt.Sprint(i))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("handed over:\n got %v\nwant %v", got, want)
	}
	if v := counter(t, m.ChainBreaks); v != 2 {
		t.Errorf("auditfwd_chain_breaks_total = %v, want 2", v)
	}
	cmu.Lock()
	last := committed[len(committed)-1]
	cmu.Unlock()
	if last != RowPos(59) {
		t.Errorf("last committed %v", last)
	}
}

// A gap that closes within the grace (a writer that committed out of
// order) is no break: the late row is read in its place.
func TestReaderWaitsOutAShortGap(t *testing.T) {
	c, db, _, conn, rows := setUp(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Row 1 disappears and comes back, as a slow writer's would appear late.
	if err := c.Tamper(ctx, db, "DELETE FROM audit.audit_event WHERE chain_index = 1"); err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	h := &handler{}
	rd := New(Options{Session: &session{conn: conn}, PollInterval: 20 * time.Millisecond, Metrics: m, GapGrace: 10 * time.Second})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- rd.Run(rctx, h, -1) }()
	testenv.Eventually(t, 10*time.Second, "row 0", func() bool { return len(h.items()) == 1 })
	r := rows[1]
	if err := c.Tamper(ctx, db, fmt.Sprintf(`INSERT INTO audit.audit_event (id, "timestamp", chain_index, previous_hash, event_hash, user_email, action_type, action, resource, status)
		VALUES (%d, '%s', 1, '\x%x', '\x%x', '%s', '%s', '%s', '%s', '%s')`, r.ID, r.Time.Format(time.RFC3339Nano), r.PreviousHash, r.EventHash,
		r.UserEmail, r.ActionType, r.Action, r.Resource, r.Status)); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "rows 1 and 2", func() bool { return len(h.items()) == 3 })
	stop()
	<-done
	for i, it := range h.items() {
		if it.alert || it.pos != RowPos(int64(i)) {
			t.Errorf("item %d: %+v", i, it)
		}
	}
	if v := counter(t, m.ChainBreaks); v != 0 {
		t.Errorf("chain breaks %v", v)
	}
}

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Rows decoded from the text format are the rows pgx scanned before, field
// for field, NULLs and all.
func TestRowsDecodeAsPgxScansThem(t *testing.T) {
	c, db, gw, conn, _ := setUp(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, e := range []gatewaydb.Event{
		{Time: time.Date(2026, 12, 6, 23, 26, 35, 123456000, time.UTC), UserEmail: "a@example.com", UserName: "Ä \"q\"", APITokenID: 7, APITokenName: "tok",
			ActionType: "deploy", Action: "deploy.approve", Command: "kubectl \\ apply", Resource: "app", ResourceType: "service",
			Details: `{"b": [1, 2.50], "a": "ü"}`, RequestID: "req", IPAddress: "2001:db8::7", UserAgent: "curl/8", Status: "success",
			RBACDecision: "allow", HTTPStatus: 201, ResponseTimeMS: 12, EventCount: 3, DeployApprovalRequestID: 99},
		{UserEmail: "b@example.com", ActionType: "auth", Action: "login", Status: "error", IPAddress: "::ffff:10.0.0.1", Details: "not {json"},
	} {
		if _, err := gw.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := After(ctx, conn, -1, 100)
	if err != nil {
		t.Fatal(err)
	}
	px, err := pgx.Connect(ctx, c.AuditfwdDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close(ctx)
	rows, err := px.Query(ctx, "SELECT "+columns+" FROM "+Table+" ORDER BY chain_index")
	if err != nil {
		t.Fatal(err)
	}
	var want []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(&r.ID, &r.Timestamp, &r.ChainIndex, &r.PreviousHash, &r.EventHash, &r.UserEmail, &r.UserName,
			&r.APITokenID, &r.APITokenName, &r.ActionType, &r.Action, &r.Command, &r.Resource, &r.ResourceType,
			&r.Details, &r.RequestID, &r.IPAddress, &r.UserAgent, &r.Status, &r.RBACDecision, &r.HTTPStatus,
			&r.ResponseTimeMS, &r.EventCount, &r.DeployApprovalRequestID); err != nil {
			t.Fatal(err)
		}
		want = append(want, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded rows differ from pgx's:\n got %+v\nwant %+v", got, want)
	}
	for i := range got {
		if g, w := got[i].Event(), want[i].Event(); string(g) != string(w) {
			t.Errorf("event %d: %s, pgx's row gives %s", i, g, w)
		}
	}
}
