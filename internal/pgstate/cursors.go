package pgstate

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/pgsource"
	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// ReadCursor is the cursor row that says how far the leader has read (all
// rows up to it were routed and queued): the start of a channel that has
// no cursor of its own yet.
const ReadCursor = "*"

// Cursors are the leader's delivery cursors, one per channel: the position
// of the last event delivered there, such that every event routed to the
// channel at or before it was delivered (or dead-lettered). A new leader
// reads from the lowest cursor on and skips per channel what the channel
// had already delivered, so that a takeover repeats at most the messages in
// flight. A cursor moves when Slack accepted a message (Acked, written
// before the sender goes on) and, for a channel with nothing queued, up to
// how far the leader has read (once a second, with the read cursor).
type Cursors struct {
	s      *Session
	table  string // schema.delivery_cursor, quoted
	by     string
	log    *slog.Logger
	queued func(channel string) int

	mu     sync.Mutex
	cur    map[string]logpos.Position // in memory: the truth while leading
	stored map[string]logpos.Position // as the database has them
	read   logpos.Position

	wmu     sync.Mutex // one write at a time; a write takes everything changed
	failing bool
}

// LoadCursors reads the cursors of schema (Prepare made it ready).
func LoadCursors(ctx context.Context, s *Session, schema string, log *slog.Logger) (*Cursors, error) {
	c := &Cursors{s: s, table: pgtext.Ident(schema, CursorTable), by: appName(), log: log,
		cur: map[string]logpos.Position{}, stored: map[string]logpos.Position{}, queued: func(string) int { return 1 }}
	err := s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		return readCursors(ctx, conn, "SELECT channel, position FROM "+c.table, func(ch string, off int64) {
			c.stored[ch] = logpos.Position{Gen: pgsource.Gen, Offset: off}
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read the delivery cursors: %w", err)
	}
	if r, ok := c.stored[ReadCursor]; ok {
		c.read = r
	}
	for ch, p := range c.stored {
		if ch != ReadCursor {
			c.cur[ch] = p
		}
	}
	return c, nil
}

// Indexes reads the cursors of schema as chain indexes: the last row
// delivered per channel, and under ReadCursor how far the leader read.
func Indexes(ctx context.Context, conn *pgconn.PgConn, schema string) (map[string]int64, error) {
	out := map[string]int64{}
	err := readCursors(ctx, conn, "SELECT channel, chain_index FROM "+pgtext.Ident(schema, CursorTable), func(ch string, i int64) { out[ch] = i })
	if err != nil {
		return nil, fmt.Errorf("read the delivery cursors: %w", err)
	}
	return out, nil
}

// readCursors runs sql, which selects a channel and a bigint, and hands
// each row to f.
func readCursors(ctx context.Context, conn *pgconn.PgConn, sql string, f func(channel string, n int64)) error {
	return pgtext.Query(ctx, conn, sql, nil, func(v [][]byte) error {
		if err := pgtext.Columns(v, 2); err != nil {
			return err
		}
		ch, err := pgtext.String(v[0])
		if err != nil {
			return err
		}
		n, err := pgtext.Int64(v[1])
		if err != nil {
			return err
		}
		f(ch, n)
		return nil
	})
}

// Start fixes where this leader reads from, for the configured channels:
// a channel without a cursor starts where the leader before read up to,
// or, on the very first start, after the row first returns (start_at). It
// returns the chain index to read after: the lowest cursor's. The new
// cursors are written before it returns.
func (c *Cursors) Start(ctx context.Context, channels []string, first func() (int64, error)) (int64, error) {
	c.mu.Lock()
	_, haveRead := c.stored[ReadCursor]
	c.mu.Unlock()
	if !haveRead {
		after, err := first()
		if err != nil {
			return 0, err
		}
		c.mu.Lock()
		c.read = pgsource.RowPos(after)
		c.mu.Unlock()
		c.log.Info("no delivery cursors yet: starting", "after_chain_index", after)
	}
	c.mu.Lock()
	start := c.read
	for _, ch := range channels {
		p, ok := c.cur[ch]
		if !ok {
			p = c.read
			c.cur[ch] = p
		}
		if p.Less(start) {
			start = p
		}
	}
	c.mu.Unlock()
	if err := c.flush(ctx, true); err != nil {
		return 0, err
	}
	return pgsource.IndexOf(start), nil
}

// SetQueued tells the cursors how many events wait for a channel.
func (c *Cursors) SetQueued(f func(channel string) int) { c.queued = f }

// Add gives channels added by a reload a cursor: they start where the
// leader has read up to (no event before was routed to them).
func (c *Cursors) Add(channels []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range channels {
		if _, ok := c.cur[ch]; !ok {
			c.cur[ch] = c.read
		}
	}
}

// Delivered reports whether the event at pos was delivered to channel
// already (by this leader or one before it).
func (c *Cursors) Delivered(channel string, pos logpos.Position) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.cur[channel]
	return ok && !p.Less(pos)
}

// Acked moves channel's cursor to pos, which Slack accepted, and writes it
// before it returns (coalesced with other channels' writes).
func (c *Cursors) Acked(channel string, pos logpos.Position) {
	c.mu.Lock()
	if p, ok := c.cur[channel]; !ok || p.Less(pos) {
		c.cur[channel] = pos
	}
	c.mu.Unlock()
	c.flush(context.Background(), false)
}

// Committed records that every row up to pos is routed and queued.
func (c *Cursors) Committed(pos logpos.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.read.Less(pos) {
		c.read = pos
	}
}

// Run moves the cursors of channels with nothing queued up to the read
// position and writes what changed, every second until ctx is done; then
// once more.
func (c *Cursors) Run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.idle()
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.flush(fctx, true)
			cancel()
			return
		case <-t.C:
		}
		c.idle()
		c.flush(ctx, true)
	}
}

// idle moves each channel with nothing queued to the read position. The
// read position is taken first: every event at or before it was queued
// before it was set, so an empty queue then means all of them went out.
func (c *Cursors) idle() {
	c.mu.Lock()
	read := c.read
	names := slices.Collect(maps.Keys(c.cur))
	c.mu.Unlock()
	for _, ch := range names {
		if c.queued(ch) != 0 {
			continue
		}
		c.mu.Lock()
		if c.cur[ch].Less(read) {
			c.cur[ch] = read
		}
		c.mu.Unlock()
	}
}

// flush writes the cursors that changed; withRead adds the read position.
func (c *Cursors) flush(ctx context.Context, withRead bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	var names []string
	var offs, idx []int64
	add := func(ch string, p logpos.Position) {
		if s, ok := c.stored[ch]; !ok || s != p {
			names, offs, idx = append(names, ch), append(offs, p.Offset), append(idx, pgsource.IndexOf(p))
		}
	}
	for ch, p := range c.cur {
		add(ch, p)
	}
	if withRead {
		add(ReadCursor, c.read)
	}
	c.mu.Unlock()
	if len(names) == 0 {
		return nil
	}
	err := c.s.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		// A cursor never moves back: an instance that lost the lock cannot
		// write at all (its session is gone), and GREATEST keeps a stale
		// value from undoing a newer one.
		return pgtext.Exec(ctx, conn, `INSERT INTO `+c.table+` (channel, position, chain_index, updated_at, updated_by)
			SELECT ch, pos, idx, now(), $4 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(ch, pos, idx)
			ON CONFLICT (channel) DO UPDATE SET position = GREATEST(`+c.table+`.position, EXCLUDED.position),
				chain_index = GREATEST(`+c.table+`.chain_index, EXCLUDED.chain_index), updated_at = now(), updated_by = EXCLUDED.updated_by`,
			pgtext.TextArray(names), pgtext.IntArray(offs), pgtext.IntArray(idx), pgtext.Text(c.by))
	})
	if err != nil {
		if !c.failing {
			c.log.Warn("cannot record delivery in the database; retrying each second (after a takeover these messages may repeat)", "err", err)
			c.failing = true
		}
		return fmt.Errorf("write the delivery cursors: %w", err)
	}
	if c.failing {
		c.log.Info("delivery recorded in the database again")
		c.failing = false
	}
	c.mu.Lock()
	for i, ch := range names {
		c.stored[ch] = logpos.Position{Gen: pgsource.Gen, Offset: offs[i]}
	}
	c.mu.Unlock()
	return nil
}
