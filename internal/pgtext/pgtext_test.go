package pgtext

import (
	"bytes"
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/auditfwd/auditfwd/internal/gatewaydb"
)

var pg gatewaydb.Lazy

func TestMain(m *testing.M) { pg.Main(m) }

// connect opens a pgx connection to the suite's server for the test's
// length: pgx scans the values the decoders must agree with.
func connect(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	conn, err := pgx.Connect(ctx, pg.Get(t).AdminDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return ctx, conn
}

func TestIdent(t *testing.T) {
	for _, parts := range [][]string{{"auditfwd"}, {"audit", "audit_event"}, {`we"ird`, "x.y"}, {"nul\x00led", ""}, {`""`}} {
		if got, want := Ident(parts...), (pgx.Identifier(parts)).Sanitize(); got != want {
			t.Errorf("Ident(%q) = %s, want %s", parts, got, want)
		}
	}
}

func TestDecodeOffline(t *testing.T) {
	ts, err := Timestamptz([]byte("2026-12-06 23:26:35.123456+00"))
	if err != nil || !ts.Equal(time.Date(2026, 12, 6, 23, 26, 35, 123456000, time.UTC)) || ts.Location() != time.Local {
		t.Errorf("Timestamptz = %v, %v", ts, err)
	}
	ts, err = Timestamptz([]byte("1900-01-01 00:00:00+00:19:32"))
	if err != nil || !ts.Equal(time.Date(1899, 12, 31, 23, 40, 28, 0, time.UTC)) {
		t.Errorf("Timestamptz with seconds offset = %v, %v", ts, err)
	}
	for _, bad := range []string{"infinity", "-infinity", "2026-12-06 23:26:35+0", "2026-12-06 23:26:35+00 BC", "2026-12-06"} {
		if _, err := Timestamptz([]byte(bad)); err == nil {
			t.Errorf("Timestamptz(%q): no error", bad)
		}
	}
	if b, err := Bytea([]byte(`ab\\c\001\377`)); err != nil || !bytes.Equal(b, []byte("ab\\c\x01\xff")) {
		t.Errorf("Bytea(escape) = %q, %v", b, err)
	}
	if b, err := Bytea([]byte(`\x`)); err != nil || b == nil || len(b) != 0 {
		t.Errorf("Bytea(empty) = %#v, %v", b, err)
	}
	if b, err := Bytea(nil); err != nil || b != nil {
		t.Errorf("Bytea(NULL) = %#v, %v", b, err)
	}
	for _, bad := range [][]byte{nil, []byte("x"), []byte("")} {
		if _, err := Bool(bad); err == nil {
			t.Errorf("Bool(%q): no error", bad)
		}
		if _, err := Int64(bad); err == nil {
			t.Errorf("Int64(%q): no error", bad)
		}
	}
	if p, err := Opt([]byte("7"), Int32); err != nil || p == nil || *p != 7 {
		t.Errorf("Opt = %v, %v", p, err)
	}
	if p, err := Opt(nil, Int32); err != nil || p != nil {
		t.Errorf("Opt(NULL) = %v, %v", p, err)
	}
	if Text("") == nil {
		t.Error(`Text("") is NULL`)
	}
}

// Each literal, read in the text format and decoded here, gives what pgx
// gives when it scans the same value into the same Go type.
func TestDecodeLikePgx(t *testing.T) {
	ctx, conn := connect(t)
	pc := conn.PgConn()
	check := func(lit string, dst any, decode func([]byte) (any, error)) {
		t.Helper()
		if err := conn.QueryRow(ctx, "SELECT "+lit).Scan(dst); err != nil {
			t.Fatalf("pgx %s: %v", lit, err)
		}
		want := reflect.ValueOf(dst).Elem().Interface()
		got, found, err := QueryValue(ctx, pc, "SELECT "+lit, nil, decode)
		if err != nil || !found {
			t.Fatalf("%s: %v (found %v)", lit, err, found)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, pgx gives %#v", lit, got, want)
		}
	}
	wrap := func(f func([]byte) (int64, error)) func([]byte) (any, error) {
		return func(b []byte) (any, error) { return f(b) }
	}
	for _, lit := range []string{"0::int8", "(-9223372036854775808)::int8", "9223372036854775807::int8", "42::int4", "-7::int2"} {
		var n int64
		check(lit, &n, wrap(Int64))
	}
	for _, lit := range []string{"2147483647::int4", "(-2147483648)::int4", "12::int2"} {
		var n int32
		check(lit, &n, func(b []byte) (any, error) { return Int32(b) })
	}
	for _, lit := range []string{"true", "false"} {
		var b bool
		check(lit, &b, func(v []byte) (any, error) { return Bool(v) })
	}
	for _, lit := range []string{"'héllo \"x\" \\ z'::text", "''::varchar(10)", `'{"a": [1, 2.50, "ü"]}'::jsonb`, `'{"a" : 1}'::json`} {
		var s string
		check(lit, &s, func(v []byte) (any, error) { return String(v) })
	}
	for _, lit := range []string{`'\x'::bytea`, `'\x00ff10'::bytea`, "NULL::bytea", "sha256('x')", "decode(repeat('ab', 100), 'hex')"} {
		for _, format := range []string{"hex", "escape"} {
			if _, err := conn.Exec(ctx, "SET bytea_output = "+format); err != nil {
				t.Fatal(err)
			}
			var b []byte
			check(lit, &b, func(v []byte) (any, error) { return Bytea(v) })
		}
	}
	for _, lit := range []string{"'10.0.0.1'::inet", "'10.0.0.0/8'::inet", "'10.1.2.3/8'::inet", "'::1'::inet", "'2001:db8::/32'::inet",
		"'2001:db8::5/64'::inet", "'::ffff:10.0.0.1'::inet", "'192.168.0.0/16'::cidr"} {
		var p netip.Prefix
		check(lit, &p, func(v []byte) (any, error) { return Inet(v) })
		var pp *netip.Prefix
		check(lit, &pp, func(v []byte) (any, error) { return Opt(v, Inet) })
	}
	var pp *netip.Prefix
	check("NULL::inet", &pp, func(v []byte) (any, error) { return Opt(v, Inet) })
	var ps *string
	check("NULL::text", &ps, func(v []byte) (any, error) { return Opt(v, String) })
	var pn *int64
	check("NULL::int8", &pn, func(v []byte) (any, error) { return Opt(v, Int64) })
	for _, zone := range []string{"UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Pacific/Chatham"} {
		if _, err := conn.Exec(ctx, "SET TimeZone = '"+zone+"'"); err != nil {
			t.Fatal(err)
		}
		for _, lit := range []string{"'2026-12-06 23:26:35.123456+00'::timestamptz", "'2026-06-01 00:00:00+00'::timestamptz",
			"'1900-01-01 00:00:00+00'::timestamptz", "'0001-01-01 12:00:00.000001+00'::timestamptz", "'2026-12-06 23:26:35.5+05:30'::timestamptz"} {
			var ts time.Time
			check(lit, &ts, func(v []byte) (any, error) { return Timestamptz(v) })
		}
	}
}

// Parameters in the text format arrive as what they stand for, arrays too.
func TestParams(t *testing.T) {
	ctx, conn := connect(t)
	pc := conn.PgConn()
	names := []string{"", "plain", `quo"te`, `back\slash`, "comma,brace}{", "NULL", " space ", "ü"}
	got, _, err := QueryValue(ctx, pc, "SELECT array_to_json($1::text[])::text", [][]byte{TextArray(names)}, String)
	if err != nil || got != `["","plain","quo\"te","back\\slash","comma,brace}{","NULL"," space ","ü"]` {
		t.Errorf("text[] = %s, %v", got, err)
	}
	got, _, err = QueryValue(ctx, pc, "SELECT array_to_json($1::bigint[])::text", [][]byte{IntArray([]int64{-1, 0, 1 << 62})}, String)
	if err != nil || got != "[-1,0,4611686018427387904]" {
		t.Errorf("bigint[] = %s, %v", got, err)
	}
	got, _, err = QueryValue(ctx, pc, "SELECT array_length($1::bigint[], 1)::text || coalesce(array_length($2::text[], 1)::text, '/empty')", [][]byte{IntArray([]int64{5}), TextArray(nil)}, String)
	if err != nil || got != "1/empty" {
		t.Errorf("empty arrays = %s, %v", got, err)
	}
	eq, _, err := QueryValue(ctx, pc, "SELECT $1 = 'x''y' AND $2::bigint = -5 AND $3 = ''", [][]byte{Text("x'y"), Int(-5), Text("")}, Bool)
	if err != nil || !eq {
		t.Errorf("params = %v, %v", eq, err)
	}
	// No row, an error from the server, and a rolled-back transaction.
	if _, found, err := QueryValue(ctx, pc, "SELECT 1 WHERE false", nil, Int64); found || err != nil {
		t.Errorf("no row: found %v, err %v", found, err)
	}
	if _, _, err := QueryValue(ctx, pc, "SELECT 1/0", nil, Int64); err == nil || pc.IsClosed() {
		t.Errorf("division by zero: %v (closed %v)", err, pc.IsClosed())
	}
	if err := Exec(ctx, pc, "CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	errStop := context.Canceled
	err = Tx(ctx, pc, func() error {
		if err := Exec(ctx, pc, "INSERT INTO t VALUES ($1)", Int(2)); err != nil {
			return err
		}
		return errStop
	})
	n, _, _ := QueryValue(ctx, pc, "SELECT count(*) FROM t", nil, Int64)
	if err != errStop || n != 1 {
		t.Errorf("Tx rolled back: err %v, rows %d", err, n)
	}
	if err := Tx(ctx, pc, func() error { return Exec(ctx, pc, "INSERT INTO t VALUES ($1)", Int(2)) }); err != nil {
		t.Fatal(err)
	}
	var rows []int64
	err = Query(ctx, pc, "SELECT n FROM t ORDER BY n", nil, func(v [][]byte) error {
		n, err := Int64(v[0])
		rows = append(rows, n)
		return err
	})
	if err != nil || !reflect.DeepEqual(rows, []int64{1, 2}) {
		t.Errorf("after commit: %v, %v", rows, err)
	}

	// A statement is prepared once per connection, and again when the
	// server forgot it or its result changed.
	count := func() int64 {
		n, _, err := QueryValue(ctx, pc, "SELECT count(*) FROM t", nil, Int64)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	count()
	count()
	prepared, _, err := QueryValue(ctx, pc, "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT count(*) FROM t'", nil, Int64)
	if err != nil || prepared != 1 {
		t.Errorf("prepared %d times, %v", prepared, err)
	}
	if err := Exec(ctx, pc, "DEALLOCATE ALL"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Errorf("after DEALLOCATE ALL: %d rows", n)
	}
	all := func() (out []string) {
		err := Query(ctx, pc, "SELECT * FROM t ORDER BY n", nil, func(v [][]byte) error {
			for _, x := range v {
				out = append(out, string(x))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	all()
	if err := Exec(ctx, pc, "ALTER TABLE t ADD COLUMN m int DEFAULT 7"); err != nil {
		t.Fatal(err)
	}
	if got := all(); !reflect.DeepEqual(got, []string{"1", "7", "2", "7"}) {
		t.Errorf("after ALTER TABLE: %q", got)
	}
}
