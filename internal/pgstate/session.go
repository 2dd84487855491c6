package pgstate

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/auditfwd/auditfwd/internal/backoff"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/pgtext"
)

// LockClass is the first key of the leader lock, pg_try_advisory_lock(int,
// int): "afwd". The second is a hash of state_schema, so that two auditfwd
// deployments with their own schemas in one database do not exclude each
// other. pg_locks shows it as classid, objid.
const LockClass = 0x61667764

// lockKeys are the two keys of the leader lock for schema.
func lockKeys(schema string) (int32, int32) {
	h := fnv.New32a()
	h.Write([]byte(schema))
	return LockClass, int32(h.Sum32())
}

// Timing of leadership (docs/high-availability.md).
const (
	// QueryTimeout bounds one statement of the leader's session.
	QueryTimeout = 10 * time.Second
	// idlePing: the leader's session is pinged when it has not answered
	// for this long (the reader's polls usually answer first).
	idlePing = 2 * time.Second
	// Lease: a leader whose session has not answered for this long stops
	// delivering. The server frees a silent client's lock later than this
	// (keepalives, about 8 to 10 s), so two leaders never overlap.
	Lease = 5 * time.Second
)

// Session is one connection to the database, used by one goroutine at a
// time through Do. While it holds the leader lock it is the leader's, and
// it dies (Lost is closed) when it stops answering.
type Session struct {
	conn *pgconn.PgConn
	pid  uint32
	log  *slog.Logger
	m    *metrics.Metrics

	mu     sync.Mutex // the connection
	hmu    sync.Mutex // the fields below
	lastOK time.Time
	dead   error
	lost   chan struct{}
}

func newSession(conn *pgconn.PgConn, log *slog.Logger, m *metrics.Metrics) *Session {
	return &Session{conn: conn, pid: conn.PID(), log: log, m: m, lastOK: time.Now(), lost: make(chan struct{})}
}

// Do runs f with the exclusive use of the connection. f's context has
// ctx's values and a deadline of QueryTimeout but not ctx's cancellation:
// cancelling a statement closes the connection (pgconn cannot tell where the
// protocol stands), and a leader that stops must still write its last
// cursors; a statement takes milliseconds. An error that closed the
// connection (a network error, the timeout) kills the session.
func (s *Session) Do(ctx context.Context, f func(ctx context.Context, conn *pgconn.PgConn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), QueryTimeout)
	defer cancel()
	err := f(ctx, s.conn)
	if err != nil && s.conn.IsClosed() {
		// pgconn closes the connection on a network error, a timeout or a
		// cancelled statement; the server refusing a statement leaves it open.
		s.kill(err)
		return err
	}
	s.ok()
	return err
}

func (s *Session) ok() {
	s.hmu.Lock()
	s.lastOK = time.Now()
	s.hmu.Unlock()
	if s.m != nil {
		s.m.SourceUp.Set(1)
	}
}

func (s *Session) kill(err error) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.dead != nil {
		return
	}
	s.dead = fmt.Errorf("database session lost: %w", err)
	close(s.lost)
}

// Err is why the session died, or nil.
func (s *Session) Err() error {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	return s.dead
}

// Lost is closed when the session dies.
func (s *Session) Lost() <-chan struct{} { return s.lost }

// PID is the server process of the session.
func (s *Session) PID() uint32 { return s.pid }

// watch keeps the leader's session honest until ctx is done: it pings an
// idle session, and kills one that has not answered for Lease (a statement
// hanging on a silent network included) or that is no longer the backend
// that took the lock (a pooler in transaction mode hands out others).
func (s *Session) watch(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.lost:
			return
		case <-t.C:
		}
		s.hmu.Lock()
		idle := time.Since(s.lastOK)
		s.hmu.Unlock()
		switch {
		case idle > Lease:
			s.kill(fmt.Errorf("no answer from the database for %v", idle.Round(time.Second)))
		case idle > idlePing && s.mu.TryLock():
			go func() {
				defer s.mu.Unlock()
				pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Lease)
				defer cancel()
				n, _, err := pgtext.QueryValue(pctx, s.conn, "SELECT pg_backend_pid()", nil, pgtext.Int64)
				pid := uint32(n)
				switch {
				case err != nil:
					s.kill(err)
				case err == nil && pid != s.pid:
					s.kill(fmt.Errorf("the session moved from backend %d to %d: the DSN points at a pooler in transaction mode, which cannot hold a session lock; point it at PostgreSQL or a session-mode pooler", s.pid, pid))
				case err == nil:
					s.ok()
				}
			}()
		}
	}
}

// Elector keeps one session to the database and leads whenever it gets the
// leader lock; otherwise it stands by.
type Elector struct {
	DSN    string
	Schema string
	// TryEvery is how often a standby tries the lock.
	TryEvery time.Duration
	Logger   *slog.Logger
	Metrics  *metrics.Metrics
	// StandingBy is called each time this instance finds another holding
	// the lock (it is ready: it stands by).
	StandingBy func()
	// Heartbeat is called at least every second while Run stands by or
	// waits for the database (the systemd watchdog; a leader's reader
	// beats for itself).
	Heartbeat func()
}

// Run stands by and leads until ctx is done. lead is called each time this
// instance gets the lock, with a context that ends the moment the lock is
// lost (the session died) or ctx is done; it must stop delivering then and
// return. Run returns nil when ctx is done.
func (e *Elector) Run(ctx context.Context, lead func(ctx context.Context, s *Session) error) error {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.StandingBy == nil {
		e.StandingBy = func() {}
	}
	if e.Heartbeat == nil {
		e.Heartbeat = func() {}
	}
	log := e.Logger
	e.Metrics.Leader.Set(0)
	k1, k2 := lockKeys(e.Schema)
	failures := 0
	var downSince time.Time
	var lastDownLog time.Time
	standbyLogged := false
	for ctx.Err() == nil {
		conn, err := Connect(ctx, e.DSN)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			e.Metrics.SourceUp.Set(0)
			if downSince.IsZero() {
				downSince = time.Now()
			}
			if time.Since(lastDownLog) >= time.Minute {
				log.Error("cannot reach the gateway's database; retrying (nothing is lost: the table is the buffer)",
					"err", err, "down_for", time.Since(downSince).Round(time.Second))
				lastDownLog = time.Now()
			}
			failures++
			backoff.Sleep(ctx, backoff.Delay(failures, 15*time.Second), e.Heartbeat)
			continue
		}
		if !downSince.IsZero() {
			log.Info("the gateway's database answers again", "was_down_for", time.Since(downSince).Round(time.Second))
			downSince, lastDownLog = time.Time{}, time.Time{}
		}
		failures = 0
		e.Metrics.SourceUp.Set(1)
		s := newSession(conn, log, e.Metrics)
		lostLead := false
		for ctx.Err() == nil && s.Err() == nil {
			var got bool
			err := s.Do(ctx, func(ctx context.Context, c *pgconn.PgConn) error {
				var err error
				got, _, err = pgtext.QueryValue(ctx, c, "SELECT pg_try_advisory_lock($1, $2)",
					[][]byte{pgtext.Int(int64(k1)), pgtext.Int(int64(k2))}, pgtext.Bool)
				return err
			})
			if err != nil {
				break
			}
			if !got {
				if !standbyLogged {
					log.Info("standing by: another instance holds the leader lock", "holder", e.holder(ctx, s, k1, k2))
					standbyLogged = true
				}
				e.StandingBy()
				backoff.Sleep(ctx, e.TryEvery, e.Heartbeat)
				continue
			}
			standbyLogged, lostLead = false, true
			if err := e.term(ctx, s, lead); err != nil {
				log.Error("stopped leading", "err", err)
				failures++
				backoff.Sleep(ctx, backoff.Delay(failures, 15*time.Second), e.Heartbeat)
			}
			break // a fresh connection, so that nothing of the lock survives the term
		}
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx) // ends the session: the lock is released with it
		cancel()
		if err := s.Err(); err != nil && ctx.Err() == nil {
			log.Error("lost the database session; reconnecting", "err", err)
			if lostLead {
				// A session that just failed under a leader may fail again:
				// a standby, trying every TryEvery, gets the lock first.
				backoff.Sleep(ctx, e.TryEvery+2*time.Second, e.Heartbeat)
			}
		}
	}
	e.Metrics.Leader.Set(0)
	return nil
}

// term leads once: lead runs until the session dies or ctx is done.
func (e *Elector) term(ctx context.Context, s *Session, lead func(context.Context, *Session) error) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.watch(tctx)
	go func() {
		select {
		case <-s.Lost():
			cancel() // stop delivering at once
		case <-tctx.Done():
		}
	}()
	e.Metrics.Leader.Set(1)
	e.Logger.Info("leading: this instance holds the leader lock and delivers", "backend_pid", s.PID())
	err := lead(tctx, s)
	e.Metrics.Leader.Set(0)
	if lost := s.Err(); lost != nil && ctx.Err() == nil {
		e.Logger.Error("lost the leader lock; stopped delivering", "err", lost)
		e.Metrics.SourceUp.Set(0)
		return nil
	}
	return err
}

// holder names the session holding the lock, as far as this role may see.
func (e *Elector) holder(ctx context.Context, s *Session, k1, k2 int32) string {
	var who string
	s.Do(ctx, func(ctx context.Context, c *pgconn.PgConn) error {
		var err error
		who, _, err = lockHolder(ctx, c, k1, k2)
		return err
	})
	return who
}

// lockHolder is the application and backend holding the lock (k1, k2);
// held is false when nobody does.
func lockHolder(ctx context.Context, c *pgconn.PgConn, k1, k2 int32) (who string, held bool, err error) {
	return pgtext.QueryValue(ctx, c, `SELECT coalesce(a.application_name, '') || ' (backend ' || l.pid || ')'
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 2 AND l.granted
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
		[][]byte{pgtext.Int(int64(uint32(k1))), pgtext.Int(int64(uint32(k2)))}, pgtext.String)
}
