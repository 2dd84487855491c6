package pgsource

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/backoff"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
)

// Handler receives the rows as lines, as the tailer's handler receives a
// log's lines (pipeline.Handler is one).
type Handler interface {
	// Line takes one event line; end is its position (RowPos).
	Line(line []byte, end logpos.Position)
	// Alert takes one of auditfwd's own alert events (BreakPos): routed as
	// a line is, and to the first configured channel when no rule routes it.
	Alert(line []byte, end logpos.Position)
	// Commit hands everything handed over on (the senders may post it at
	// once).
	Commit() (bool, error)
	// Sync makes everything committed durable.
	Sync() error
	// Rollback forgets what is not durable.
	Rollback()
}

// Session runs f with the exclusive use of a database connection, with a
// context of its own for the statements (pgstate.Session detaches it from
// ctx's cancellation, so that a stop never cuts a statement).
type Session interface {
	Do(ctx context.Context, f func(ctx context.Context, conn *pgconn.PgConn) error) error
}

// Options configure a Reader.
type Options struct {
	Session      Session
	PollInterval time.Duration // between queries once it has caught up
	Batch        int           // rows per query; default 500
	Logger       *slog.Logger
	Metrics      *metrics.Metrics // chain breaks and lag
	// Committed is told the position of the last row whose events are
	// durable in the spools, after each successful Commit and Sync.
	Committed func(pos logpos.Position)
	// Writable reports whether commits succeed (state_dir writable).
	Writable func(ok bool)
	// Heartbeat is called at least every second while Run runs (the
	// systemd watchdog).
	Heartbeat func()
	// GapGrace is how long a gap in chain_index must last before it is a
	// break: a row becomes visible only when its writer commits, and a
	// writer that skipped the gateway's lock could commit out of order.
	GapGrace time.Duration
}

// Reader reads the table from one position on.
type Reader struct {
	opts Options
	log  *slog.Logger
}

// New returns a Reader.
func New(o Options) *Reader {
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.GapGrace <= 0 {
		o.GapGrace = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Committed == nil {
		o.Committed = func(logpos.Position) {}
	}
	if o.Writable == nil {
		o.Writable = func(bool) {}
	}
	if o.Heartbeat == nil {
		o.Heartbeat = func() {}
	}
	return &Reader{opts: o, log: o.Logger}
}

// Run hands over every row after chain index after (-1: from the first
// row), in order, until ctx is done (then it returns nil) or a query fails
// (then it returns the error: the session is suspect, the caller decides).
func (rd *Reader) Run(ctx context.Context, h Handler, after int64) error {
	c := chain{last: after}
	if after >= 0 {
		var known bool
		err := rd.opts.Session.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
			var err error
			c.lastHash, known, err = HashAt(ctx, conn, after)
			return err
		})
		if err != nil {
			return rd.stopped(ctx, err)
		}
		if !known {
			rd.log.Warn("the last row delivered is no longer in the audit table; the next row's link cannot be checked",
				"chain_index", after)
		}
	}
	committed := c // the chain as of the last successful commit
	var gapAt int64 = -2
	var gapSince time.Time
	failures := 0
	for {
		var rows []Row
		err := rd.opts.Session.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
			var err error
			rows, err = After(ctx, conn, c.last, rd.opts.Batch)
			return err
		})
		if err != nil {
			return rd.stopped(ctx, err)
		}
		handed, wait := 0, false
		for i := range rows {
			r := &rows[i]
			if r.ChainIndex != c.last+1 {
				// A gap: declared only once it has lasted GapGrace.
				if gapAt != c.last+1 {
					gapAt, gapSince = c.last+1, time.Now()
				}
				if time.Since(gapSince) < rd.opts.GapGrace {
					wait = true
					break
				}
			}
			if b, broken := c.check(r); broken {
				rd.broken(b)
				h.Alert(b.Event(), BreakPos(r.ChainIndex))
			}
			h.Line(r.Event(), RowPos(r.ChainIndex))
			handed++
		}
		if handed > 0 {
			// The batch's events may go out before they are durable; the
			// read position (and with it the cursors of idle channels)
			// moves only once they are.
			_, err := h.Commit()
			if err == nil {
				err = h.Sync()
			}
			if err != nil {
				// state_dir cannot be written: forget this batch and read it
				// again later; the table is the buffer.
				h.Rollback()
				c = committed
				if failures == 0 {
					rd.log.Error("cannot write to the state directory; holding back in the audit table and retrying",
						"err", err, "behind_after_chain_index", c.last)
				}
				rd.opts.Writable(false)
				failures++
				if !backoff.Sleep(ctx, backoff.Delay(failures, 30*time.Second), rd.opts.Heartbeat) {
					return nil
				}
				continue
			}
			if failures > 0 {
				rd.log.Info("the state directory can be written again; reading on", "chain_index", c.last)
				rd.opts.Writable(true)
				failures = 0
			}
			committed = c
			rd.opts.Committed(RowPos(c.last))
		}
		full := len(rows) == rd.opts.Batch && !wait
		rd.lag(ctx, full, c.last)
		if full {
			continue
		}
		pause := rd.opts.PollInterval
		if wait {
			pause = min(pause, rd.opts.GapGrace)
		}
		if !backoff.Sleep(ctx, pause, rd.opts.Heartbeat) {
			return nil
		}
	}
}

// lag sets auditfwd_source_lag_events: 0 when the last query came back
// short (nothing more to read); else it asks how far the table goes.
func (rd *Reader) lag(ctx context.Context, full bool, last int64) {
	if rd.opts.Metrics == nil {
		return
	}
	if !full {
		rd.opts.Metrics.SourceLag.Set(0)
		return
	}
	var max int64
	err := rd.opts.Session.Do(ctx, func(ctx context.Context, conn *pgconn.PgConn) error {
		var err error
		max, err = LastIndex(ctx, conn)
		return err
	})
	if err == nil {
		rd.opts.Metrics.SourceLag.Set(float64(max - last))
	}
}

func (rd *Reader) broken(b Break) {
	if rd.opts.Metrics != nil {
		rd.opts.Metrics.ChainBreaks.Inc()
	}
	args := []any{"first_index_after", b.FirstAfter, "reason", b.Reason()}
	if b.LastGood >= 0 {
		args = append(args, "last_good_index", b.LastGood)
	}
	rd.log.Error("the gateway's audit chain is broken; posting "+BrokenAction+" and reading on", args...)
}

// stopped is the error Run returns: nil when ctx ended the query.
func (rd *Reader) stopped(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("audit table: %w", err)
}
