package pgsource

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Table is the gateway's audit table.
const Table = "audit.audit_event"

// After reads up to limit rows after chain index after, in chain order.
func After(ctx context.Context, conn *pgx.Conn, after int64, limit int) ([]Row, error) {
	rows, err := conn.Query(ctx, "SELECT "+columns+" FROM "+Table+" WHERE chain_index > $1 ORDER BY chain_index LIMIT $2", after, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Table, err)
	}
	return collect(rows)
}

// Last reads the last n rows, in chain order.
func Last(ctx context.Context, conn *pgx.Conn, n int) ([]Row, error) {
	rows, err := conn.Query(ctx, "SELECT "+columns+" FROM "+Table+" ORDER BY chain_index DESC LIMIT $1", n)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Table, err)
	}
	out, err := collect(rows)
	slices.Reverse(out)
	return out, err
}

func collect(rows pgx.Rows) ([]Row, error) {
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, fmt.Errorf("read %s: %w", Table, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", Table, err)
	}
	return out, nil
}

// LastIndex is the highest chain index in the table, -1 when it is empty.
func LastIndex(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var n *int64
	if err := conn.QueryRow(ctx, "SELECT max(chain_index) FROM "+Table).Scan(&n); err != nil {
		return 0, fmt.Errorf("read %s: %w", Table, err)
	}
	if n == nil {
		return -1, nil
	}
	return *n, nil
}

// HashAt is the event_hash of the row at chain index i; ok is false when
// there is no such row.
func HashAt(ctx context.Context, conn *pgx.Conn, i int64) (hash []byte, ok bool, err error) {
	err = conn.QueryRow(ctx, "SELECT event_hash FROM "+Table+" WHERE chain_index = $1", i).Scan(&hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", Table, err)
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
