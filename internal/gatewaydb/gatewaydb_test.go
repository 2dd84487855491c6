package gatewaydb

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var shared Lazy

func TestMain(m *testing.M) { shared.Main(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// gatewayOf is a test's database with the gateway connected to it.
func gatewayOf(t *testing.T) (*Cluster, string, context.Context, *Gateway) {
	t.Helper()
	c := shared.Get(t)
	db := c.DB(t)
	ctx := ctxT(t)
	gw, err := c.Gateway(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	return c, db, ctx, gw
}

// The table behaves as the gateway's schema says: rows chained by the gateway's
// inserts, readable by audit_reader, never updated or deleted, row 0 without
// a previous hash.
func TestGatewayTable(t *testing.T) {
	c, db, ctx, gw := gatewayOf(t)
	var rows []Row
	for i := range 3 {
		r, err := gw.Append(ctx, Event{UserEmail: "a@example.com", ActionType: "auth", Action: "login.complete", Status: "success", IPAddress: "203.0.113.7", HTTPStatus: int32(200 + i)})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if rows[0].ChainIndex != 0 || rows[0].PreviousHash != nil || rows[2].ChainIndex != 2 || !bytes.Equal(rows[2].PreviousHash, rows[1].EventHash) {
		t.Fatalf("chain: %+v", rows)
	}
	if !bytes.Equal(rows[1].EventHash, Hash(HMACSecret, 1, rows[0].EventHash, rows[1].Event)) {
		t.Error("event_hash is not the HMAC of the row")
	}

	reader, err := pgx.Connect(ctx, c.AuditfwdDSN(db))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close(ctx)
	var n int
	var prev []byte
	if err := reader.QueryRow(ctx, "SELECT count(*), (SELECT previous_hash FROM audit.audit_event WHERE chain_index = 2) FROM audit.audit_event").Scan(&n, &prev); err != nil || n != 3 || !bytes.Equal(prev, rows[1].EventHash) {
		t.Fatalf("audit_reader sees %d rows (%v)", n, err)
	}
	for _, q := range []string{"UPDATE audit.audit_event SET status = 'x'", "DELETE FROM audit.audit_event", "INSERT INTO audit.audit_event (chain_index, event_hash, user_email, action_type, action, status) VALUES (9, '\\x00', '', 'a', 'b', 'c')"} {
		if _, err := reader.Exec(ctx, q); err == nil {
			t.Errorf("audit_reader could %s", q)
		}
	}
	for _, q := range []string{"UPDATE audit.audit_event SET status = 'x'", "DELETE FROM audit.audit_event WHERE chain_index = 1"} {
		err := c.Exec(ctx, db, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s as the superuser: %v, want the trigger's refusal", q, err)
		}
	}
	if err := c.Tamper(ctx, db, "DELETE FROM audit.audit_event WHERE chain_index = 1"); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRow(ctx, "SELECT count(*) FROM audit.audit_event").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after tampering %d rows (%v)", n, err)
	}
	if err := c.Exec(ctx, db, "DELETE FROM audit.audit_event WHERE chain_index = 2"); err == nil {
		t.Error("the triggers stayed disabled after tampering")
	}
}

// A stopped server ends every session; started again, it serves the same
// data on the same port.
func TestStopStart(t *testing.T) {
	c, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	db, err := c.CreateDatabase(ctx, "stop", "", true)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := c.Gateway(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Append(ctx, Event{UserEmail: "", ActionType: "auth", Action: "logout", Status: "success"}); err != nil {
		t.Fatal(err)
	}
	port := c.Port
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Append(ctx, Event{ActionType: "auth", Action: "logout", Status: "success"}); err == nil {
		t.Fatal("append while stopped succeeded")
	}
	gw.Close()
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	if c.Port != port {
		t.Fatalf("port changed %d → %d", port, c.Port)
	}
	gw, err = c.Gateway(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	r, err := gw.Append(ctx, Event{ActionType: "auth", Action: "logout", Status: "success"})
	if err != nil || r.ChainIndex != 1 {
		t.Fatalf("after restart: %+v, %v", r, err)
	}
	root := c.Root
	c.Close()
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("Close left %s behind (%v)", root, err)
	}
}

// Preload continues the chain the gateway's inserts started, and the
// gateway's next insert continues Preload's.
func TestPreload(t *testing.T) {
	c, db, ctx, gw := gatewayOf(t)
	first, err := gw.Append(ctx, Event{ActionType: "auth", Action: "logout", Status: "success"})
	if err != nil {
		t.Fatal(err)
	}
	evs := make([]Event, 100)
	for i := range evs {
		evs[i] = Event{ActionType: "convox", Action: "app.read", Status: "success", IPAddress: "10.0.0.1", HTTPStatus: 200}
	}
	if err := c.Preload(ctx, db, evs); err != nil {
		t.Fatal(err)
	}
	next, err := gw.Append(ctx, Event{ActionType: "auth", Action: "logout", Status: "success"})
	if err != nil || next.ChainIndex != 101 {
		t.Fatalf("after preload: %+v %v", next, err)
	}
	conn, err := c.Admin(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var broken int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM audit.audit_event a JOIN audit.audit_event b ON b.chain_index = a.chain_index + 1
		WHERE b.previous_hash IS DISTINCT FROM a.event_hash`).Scan(&broken)
	if err != nil || broken != 0 {
		t.Fatalf("%d broken links (%v)", broken, err)
	}
	var h []byte
	conn.QueryRow(ctx, "SELECT previous_hash FROM audit.audit_event WHERE chain_index = 1").Scan(&h)
	if !bytes.Equal(h, first.EventHash) {
		t.Error("the preload does not link to the gateway's row")
	}
}
