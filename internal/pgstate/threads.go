package pgstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/pgtext"
	"github.com/auditfwd/auditfwd/internal/threads"
)

// Threads keeps the thread table in state_schema (threads.Records), so
// that the next leader replies under the same parents and edits them. It
// writes through the leader's session: an instance that lost the lock
// cannot change a thread.
type Threads struct {
	s     *Session
	table string
}

var _ threads.Records = (*Threads)(nil)

// NewThreads is the thread table of schema (Prepare made it ready).
func NewThreads(s *Session, schema string) *Threads {
	return &Threads{s: s, table: pgtext.Ident(schema, ThreadTable)}
}

// Load reads every thread. A row that cannot be decoded is skipped (its
// next event starts a new thread).
func (t *Threads) Load(ctx context.Context) ([]threads.Thread, error) {
	var out []threads.Thread
	err := t.s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		return pgtext.Query(ctx, conn, "SELECT thread FROM "+t.table, nil, func(v [][]byte) error {
			if err := pgtext.Columns(v, 1); err != nil {
				return err
			}
			if v[0] == nil {
				return errors.New("thread is NULL") // the column is NOT NULL; pgx refused it too
			}
			var th threads.Thread
			if json.Unmarshal(v[0], &th) == nil && th.Channel != "" && th.Key != "" {
				out = append(out, th)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the thread table: %w", err)
	}
	return out, nil
}

// Save replaces the thread of th's channel and key; it is durable when it
// returns.
func (t *Threads) Save(ctx context.Context, th threads.Thread) error {
	doc, err := json.Marshal(th)
	if err != nil {
		return fmt.Errorf("thread state: %w", err)
	}
	err = t.s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		return pgtext.Exec(ctx, conn, "INSERT INTO "+t.table+` (channel, key, thread, updated_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (channel, key) DO UPDATE SET thread = EXCLUDED.thread, updated_at = now()`, pgtext.Text(th.Channel), pgtext.Text(th.Key), doc)
	})
	if err != nil {
		return fmt.Errorf("save the thread in the database: %w", err)
	}
	return nil
}

// Forget deletes the thread of channel and key.
func (t *Threads) Forget(ctx context.Context, channel, key string) error {
	return t.s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		return pgtext.Exec(ctx, conn, "DELETE FROM "+t.table+" WHERE channel = $1 AND key = $2", pgtext.Text(channel), pgtext.Text(key))
	})
}
