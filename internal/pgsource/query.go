package pgsource

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// Table is the gateway's audit table.
const Table = "audit.audit_event"

// After reads up to limit rows after chain index after, in chain order.
func After(ctx context.Context, conn *pgconn.PgConn, after int64, limit int) ([]Row, error) {
	return collect(ctx, conn, "SELECT "+columns+" FROM "+Table+" WHERE chain_index > $1 ORDER BY chain_index LIMIT $2",
		pgtext.Int(after), pgtext.Int(int64(limit)))
}

// Last reads the last n rows, in chain order.
func Last(ctx context.Context, conn *pgconn.PgConn, n int) ([]Row, error) {
	out, err := collect(ctx, conn, "SELECT "+columns+" FROM "+Table+" ORDER BY chain_index DESC LIMIT $1", pgtext.Int(int64(n)))
	slices.Reverse(out)
	return out, err
}

// collect runs sql, which selects columns, and decodes its rows.
func collect(ctx context.Context, conn *pgconn.PgConn, sql string, params ...[]byte) ([]Row, error) {
	var out []Row
	err := pgtext.Query(ctx, conn, sql, params, func(values [][]byte) error {
		var r Row
		if err := r.decode(values); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Table, err)
	}
	return out, nil
}

// LastIndex is the highest chain index in the table, -1 when it is empty.
func LastIndex(ctx context.Context, conn *pgconn.PgConn) (int64, error) {
	n, _, err := pgtext.QueryValue(ctx, conn, "SELECT max(chain_index) FROM "+Table, nil, func(v []byte) (*int64, error) {
		return pgtext.Opt(v, pgtext.Int64)
	})
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", Table, err)
	}
	if n == nil {
		return -1, nil
	}
	return *n, nil
}

// HashAt is the event_hash of the row at chain index i; ok is false when
// there is no such row.
func HashAt(ctx context.Context, conn *pgconn.PgConn, i int64) (hash []byte, ok bool, err error) {
	hash, ok, err = pgtext.QueryValue(ctx, conn, "SELECT event_hash FROM "+Table+" WHERE chain_index = $1", [][]byte{pgtext.Int(i)}, pgtext.Bytea)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", Table, err)
	}
	if !ok {
		return nil, false, nil
	}
	return hash, true, nil
}

// Replay hands rows to fn as event lines in chain order, with an
// auditfwd.chain_broken alert (alert true, index the row after the break)
// before each row where the chain breaks, as the daemon would hand them
// over (`auditfwd route --replay-db`). The first row is taken as it is:
// nothing before it was read.
func Replay(rows []Row, fn func(index int64, alert bool, line []byte)) {
	if len(rows) == 0 {
		return
	}
	c := chain{last: rows[0].ChainIndex - 1}
	for i := range rows {
		if b, broken := c.check(&rows[i]); broken {
			fn(rows[i].ChainIndex, true, b.Event())
		}
		fn(rows[i].ChainIndex, false, rows[i].Event())
	}
}
