// Package pgtext speaks to PostgreSQL through pgconn alone, in the text
// format: quoting identifiers, encoding parameters, decoding the column
// types auditfwd reads, and running statements. pgx's higher layers (its
// type system above all) stay out of the daemon's binary, where they cost
// resident memory even when the daemon only tails a file.
//
// The decoders give what pgx gave for the same columns, so that callers see
// the same values: a timestamptz is a time.Time in time.Local, an inet a
// netip.Prefix (a bare address as /32 or /128), a bytea a non-nil slice.
// NULL is a nil value; the Opt* decoders turn it into a nil pointer, the
// others refuse it.
package pgtext

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Ident quotes an identifier of one or more parts (schema, table) as
// pgx.Identifier.Sanitize does: each part in double quotes, inner quotes
// doubled, NUL bytes dropped, joined by dots.
func Ident(parts ...string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		p = strings.ReplaceAll(p, `"`, `""`)
		q[i] = `"` + strings.ReplaceAll(p, "\x00", "") + `"`
	}
	return strings.Join(q, ".")
}

// Text is s as a parameter.
func Text(s string) []byte { return append([]byte{}, s...) } // never nil: nil is NULL

// Int is n as a parameter.
func Int(n int64) []byte { return strconv.AppendInt(nil, n, 10) }

// TextArray is ss as a text[] parameter.
func TextArray(ss []string) []byte {
	b := []byte{'{'}
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		for j := 0; j < len(s); j++ {
			if s[j] == '"' || s[j] == '\\' {
				b = append(b, '\\')
			}
			b = append(b, s[j])
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// IntArray is ns as a bigint[] parameter.
func IntArray(ns []int64) []byte {
	b := []byte{'{'}
	for i, n := range ns {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, n, 10)
	}
	return append(b, '}')
}

var errNull = errors.New("unexpected NULL")

// Int64 decodes a bigint, integer or smallint.
func Int64(v []byte) (int64, error) {
	if v == nil {
		return 0, errNull
	}
	return strconv.ParseInt(string(v), 10, 64)
}

// Int32 decodes an integer or smallint.
func Int32(v []byte) (int32, error) {
	if v == nil {
		return 0, errNull
	}
	n, err := strconv.ParseInt(string(v), 10, 32)
	return int32(n), err
}

// Bool decodes a boolean.
func Bool(v []byte) (bool, error) {
	switch string(v) {
	case "t":
		return true, nil
	case "f":
		return false, nil
	case "":
		if v == nil {
			return false, errNull
		}
	}
	return false, fmt.Errorf("invalid boolean %q", v)
}

// String decodes a text, varchar or json column (JSON stays its text).
func String(v []byte) (string, error) {
	if v == nil {
		return "", errNull
	}
	return string(v), nil
}

// Bytea decodes a bytea in either output format (bytea_output hex, the
// default, or escape); NULL is a nil slice, an empty value a non-nil one.
func Bytea(v []byte) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	if s, ok := bytes.CutPrefix(v, []byte(`\x`)); ok {
		out := make([]byte, hex.DecodedLen(len(s)))
		if _, err := hex.Decode(out, s); err != nil {
			return nil, fmt.Errorf("invalid bytea: %w", err)
		}
		return out, nil
	}
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] != '\\':
			out = append(out, v[i])
		case i+1 < len(v) && v[i+1] == '\\':
			out = append(out, '\\')
			i++
		case i+3 < len(v):
			n, err := strconv.ParseUint(string(v[i+1:i+4]), 8, 8)
			if err != nil {
				return nil, fmt.Errorf("invalid bytea escape %q", v[i:i+4])
			}
			out = append(out, byte(n))
			i += 3
		default:
			return nil, fmt.Errorf("invalid bytea escape at byte %d", i)
		}
	}
	return out, nil
}

// Timestamptz decodes a timestamptz as DateStyle ISO writes it
// ("2026-12-06 23:26:35.123456+00", any offset, to the second). It
// refuses infinity, as pgx did for a time.Time, and, unlike pgx, years
// outside 1 to 9999 (BC, five digits), which no audit row has.
func Timestamptz(v []byte) (time.Time, error) {
	if v == nil {
		return time.Time{}, errNull
	}
	s := string(v)
	// The offset starts at the last sign after the date's dashes.
	i := strings.LastIndexAny(s, "+-")
	if i < len("2006-01-02 15:04:05") {
		return time.Time{}, fmt.Errorf("invalid timestamptz %q", s)
	}
	local, err := time.Parse("2006-01-02 15:04:05", s[:i])
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid timestamptz %q", s)
	}
	off := 0
	for k, part := range strings.Split(s[i+1:], ":") {
		n, err := strconv.Atoi(part)
		if err != nil || k > 2 || len(part) != 2 {
			return time.Time{}, fmt.Errorf("invalid timestamptz %q", s)
		}
		off += n * []int{3600, 60, 1}[k]
	}
	if s[i] == '-' {
		off = -off
	}
	t := local.Add(-time.Duration(off) * time.Second)
	return time.Unix(t.Unix(), int64(t.Nanosecond())), nil // in time.Local, as pgx gives it
}

// Inet decodes an inet (or cidr): an address with a prefix length as
// written ("10.1.2.3/8" keeps its host bits), a bare address as a single-IP
// prefix.
func Inet(v []byte) (netip.Prefix, error) {
	if v == nil {
		return netip.Prefix{}, errNull
	}
	s := string(v)
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Opt decodes a value that may be NULL: a nil pointer for NULL, else a
// pointer to what decode made of it.
func Opt[T any](v []byte, decode func([]byte) (T, error)) (*T, error) {
	if v == nil {
		return nil, nil
	}
	x, err := decode(v)
	if err != nil {
		return nil, err
	}
	return &x, nil
}

// Exec runs sql. Without params it goes as a simple query (several
// statements allowed, as pgx does without arguments); with them, as one
// prepared statement whose parameters are in the text format and typed by
// the server.
func Exec(ctx context.Context, conn *pgconn.PgConn, sql string, params ...[]byte) error {
	if len(params) == 0 {
		_, err := conn.Exec(ctx, sql).ReadAll()
		return err
	}
	return Query(ctx, conn, sql, params, func([][]byte) error { return nil })
}

// Query runs one statement and calls row with each row's values in the
// text format (nil for NULL). The values are valid only during the call. An
// error from row stops the calls and is returned once the statement is
// read to its end.
//
// The statement is prepared once per connection, as pgx does by default:
// the server then plans it once, not at each run (for the reader's poll of
// the audit table, run after run, that is most of a query's time).
func Query(ctx context.Context, conn *pgconn.PgConn, sql string, params [][]byte, row func(values [][]byte) error) error {
	name, err := prepare(ctx, conn, sql)
	if err != nil {
		return err
	}
	seen, err := read(conn.ExecPrepared(ctx, name, params, nil, nil), row)
	if !seen && stale(err) {
		// The statement is gone (DISCARD ALL) or a table it reads changed
		// its columns: prepare it again, once.
		delete(preparedSet(conn), name)
		conn.Deallocate(ctx, name)
		if name, err = prepare(ctx, conn, sql); err != nil {
			return err
		}
		_, err = read(conn.ExecPrepared(ctx, name, params, nil, nil), row)
	}
	return err
}

// read calls row with each row of rr; seen says whether it was called.
func read(rr *pgconn.ResultReader, row func(values [][]byte) error) (seen bool, err error) {
	var rowErr error
	for rowErr == nil && rr.NextRow() {
		seen = true
		rowErr = row(rr.Values())
	}
	_, err = rr.Close()
	if rowErr != nil {
		return seen, rowErr
	}
	return seen, err
}

// preparedKey names, in a connection's CustomData, the set of statements
// prepared on it.
const preparedKey = "auditfwd.pgtext.prepared"

func preparedSet(conn *pgconn.PgConn) map[string]bool {
	set, _ := conn.CustomData()[preparedKey].(map[string]bool)
	if set == nil {
		set = map[string]bool{}
		conn.CustomData()[preparedKey] = set
	}
	return set
}

// prepare prepares sql on conn unless it was, under a name derived from
// its text.
func prepare(ctx context.Context, conn *pgconn.PgConn, sql string) (string, error) {
	h := fnv.New64a()
	h.Write([]byte(sql))
	name := "auditfwd_" + strconv.FormatUint(h.Sum64(), 16)
	set := preparedSet(conn)
	if set[name] {
		return name, nil
	}
	if _, err := conn.Prepare(ctx, name, sql, nil); err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42P05" { // duplicate_prepared_statement: it is there
			return "", err
		}
	}
	set[name] = true
	return name, nil
}

// stale reports whether err says a prepared statement must be prepared
// again: it does not exist (26000) or its result changed (0A000, "cached
// plan must not change result type").
func stale(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "26000" || pe.Code == "0A000")
}

// QueryRow runs one statement and calls row with the first row's values;
// found is false when it returned no row (row is not called then).
func QueryRow(ctx context.Context, conn *pgconn.PgConn, sql string, params [][]byte, row func(values [][]byte) error) (found bool, err error) {
	err = Query(ctx, conn, sql, params, func(values [][]byte) error {
		if found {
			return nil
		}
		found = true
		return row(values)
	})
	return found, err
}

// Columns checks a row has n values, so that decoding may index them.
func Columns(values [][]byte, n int) error {
	if len(values) != n {
		return fmt.Errorf("the server returned %d columns, expected %d", len(values), n)
	}
	return nil
}

// Tx runs f in a transaction: COMMIT when f succeeds, ROLLBACK when it
// fails (f's error is returned then, as pgx.BeginFunc does).
func Tx(ctx context.Context, conn *pgconn.PgConn, f func() error) error {
	if err := Exec(ctx, conn, "BEGIN"); err != nil {
		return err
	}
	if err := f(); err != nil {
		Exec(ctx, conn, "ROLLBACK") // f's error says more; a broken connection is closed anyway
		return err
	}
	return Exec(ctx, conn, "COMMIT")
}

// QueryValue runs a statement that returns one column and decodes the
// first row's value; found is false when it returned no row.
func QueryValue[T any](ctx context.Context, conn *pgconn.PgConn, sql string, params [][]byte, decode func([]byte) (T, error)) (v T, found bool, err error) {
	found, err = QueryRow(ctx, conn, sql, params, func(values [][]byte) error {
		if err := Columns(values, 1); err != nil {
			return err
		}
		var err error
		v, err = decode(values[0])
		return err
	})
	return v, found, err
}
