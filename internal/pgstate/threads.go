package pgstate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	return &Threads{s: s, table: pgx.Identifier{schema, ThreadTable}.Sanitize()}
}

// Load reads every thread. A row that cannot be decoded is skipped (its
// next event starts a new thread).
func (t *Threads) Load(ctx context.Context) ([]threads.Thread, error) {
	var out []threads.Thread
	err := t.s.Do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		rows, err := conn.Query(ctx, "SELECT thread FROM "+t.table)
		if err != nil {
			return err
		}
		var doc string
		_, err = pgx.ForEachRow(rows, []any{&doc}, func() error {
			var th threads.Thread
			if json.Unmarshal([]byte(doc), &th) == nil && th.Channel != "" && th.Key != "" {
				out = append(out, th)
			}
			return nil
		})
		return err
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
	err = t.s.Do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "INSERT INTO "+t.table+` (channel, key, thread, updated_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (channel, key) DO UPDATE SET thread = EXCLUDED.thread, updated_at = now()`, th.Channel, th.Key, string(doc))
		return err
	})
	if err != nil {
		return fmt.Errorf("save the thread in the database: %w", err)
	}
	return nil
}

// Forget deletes the thread of channel and key.
func (t *Threads) Forget(ctx context.Context, channel, key string) error {
	return t.s.Do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "DELETE FROM "+t.table+" WHERE channel = $1 AND key = $2", channel, key)
		return err
	})
}
