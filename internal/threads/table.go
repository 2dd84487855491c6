package threads

import (
	"cmp"
	"container/list"
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Records is where a Table keeps its threads durably: the journal file in
// state_dir (OpenJournal), or any other store (a database) that keeps one
// record per (Channel, Key). Thread marshals to JSON, so a store may keep it
// as a document.
//
//   - Load returns every record (the table drops what is expired or over
//     budget, and forgets it).
//   - Save replaces the record of t's Channel and Key and is durable when it
//     returns: the sender acknowledges its spool right after.
//   - Forget deletes a record; it need not be durable at once (a thread that
//     comes back after a crash is dropped again, or only starts a new
//     thread a little later than it would have).
type Records interface {
	Load(ctx context.Context) ([]Thread, error)
	Save(ctx context.Context, t Thread) error
	Forget(ctx context.Context, channel, key string) error
}

// Budgets bound the table. Deploy approval requests have a budget of their
// own, so that no thread_by flood can evict a request's thread.
type Budgets struct {
	Approval int // deploy approval requests' threads
	By       int // thread_by threads of all rules together
}

// DefaultBudgets: at least 10,000 open requests, and as many flood threads.
var DefaultBudgets = Budgets{Approval: 10000, By: 10000}

// TableOptions configure a Table.
type TableOptions struct {
	Records Records // nil: in memory only (the dry run)
	Budgets Budgets // a zero field takes DefaultBudgets'
	Logger  *slog.Logger
	// Evicted is told of each thread forgotten to make room (not of those
	// forgotten after their window): auditfwd_threads_evicted_total.
	Evicted func(t Thread)
}

// Table is the table of threads: in memory, kept in Records. It forgets a
// thread a window after it last changed (ApprovalRetention for a request),
// and when a class is over its budget, the thread of that class that has
// been untouched the longest. Safe for concurrent use.
type Table struct {
	rec     Records
	log     *slog.Logger
	budgets [classes]int
	evicted func(Thread)

	mu        sync.Mutex
	m         map[string]*entry   // by mapKey
	lru       [classes]*list.List // per class, least recently changed first
	lastSweep time.Time
	logged    [classes]evictionLog
}

// A class of threads shares a budget.
type class int

const (
	classBy class = iota
	classApproval
	classes
)

func classOf(t *Thread) class {
	if t.Approval {
		return classApproval
	}
	return classBy
}

func (c class) String() string {
	if c == classApproval {
		return "deploy approval requests"
	}
	return "thread_by"
}

type entry struct {
	t  Thread
	el *list.Element // in lru[classOf(&t)], holding the mapKey
}

func mapKey(channel, key string) string { return channel + "\x00" + key }

// sweepEvery is how often Put forgets the threads past their window.
const sweepEvery = time.Minute

// NewTable loads the threads of o.Records, drops those past their window
// at now, and keeps each class within its budget. A store that cannot be
// read is logged: the table starts empty (events of the threads it held
// start new ones).
func NewTable(ctx context.Context, o TableOptions, now time.Time) *Table {
	t := &Table{rec: o.Records, log: cmp.Or(o.Logger, slog.New(slog.DiscardHandler)), m: map[string]*entry{}, lastSweep: now}
	t.budgets[classBy] = cmp.Or(o.Budgets.By, DefaultBudgets.By)
	t.budgets[classApproval] = cmp.Or(o.Budgets.Approval, DefaultBudgets.Approval)
	for c := range t.lru {
		t.lru[c] = list.New()
	}
	// Threads dropped while loading (the budgets shrank) were evicted
	// before: they are not counted again.
	defer func() { t.evicted = o.Evicted }()
	if t.rec == nil {
		return t
	}
	loaded, err := t.rec.Load(ctx)
	if err != nil {
		t.log.Error("cannot read the thread state; starting without it (events of known threads start new ones)", "err", err)
	}
	// Oldest first, so that the lists are in the order of last change.
	slices.SortStableFunc(loaded, func(a, b Thread) int { return a.Touched.Compare(b.Touched) })
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, th := range loaded {
		th.upgrade()
		if th.Expired(now) {
			t.forgetLocked(ctx, th.Channel, th.Key)
			continue
		}
		t.putLocked(ctx, th)
	}
	return t
}

// Get returns the thread key of channel, unless it is unknown or forgotten
// at now. The copy is the caller's.
func (t *Table) Get(channel, key string, now time.Time) (Thread, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[mapKey(channel, key)]
	if !ok || e.t.Expired(now) {
		return Thread{}, false
	}
	return e.t.Clone(), true
}

// Put records th, durably when the table has Records, making room in its
// class first. The table holds th even when saving fails (the error says
// so): only a crash before the next successful save forgets it.
func (t *Table) Put(ctx context.Context, th Thread) error {
	th = th.Clone()
	t.mu.Lock()
	defer t.mu.Unlock()
	if now := th.Touched; now.Sub(t.lastSweep) >= sweepEvery {
		t.sweepLocked(ctx, now)
	}
	t.putLocked(ctx, th)
	if t.rec == nil {
		return nil
	}
	return t.rec.Save(ctx, th)
}

// putLocked keeps th in memory, evicting from its class what is over budget.
func (t *Table) putLocked(ctx context.Context, th Thread) {
	k, c := mapKey(th.Channel, th.Key), classOf(&th)
	if e, ok := t.m[k]; ok {
		if old := classOf(&e.t); old != c {
			t.lru[old].Remove(e.el)
			e.el = t.lru[c].PushBack(k)
		} else {
			t.lru[c].MoveToBack(e.el)
		}
		e.t = th
		return
	}
	for t.lru[c].Len() >= t.budgets[c] {
		t.evictLocked(ctx, c, th.Touched)
	}
	t.m[k] = &entry{t: th, el: t.lru[c].PushBack(k)}
}

// evictLocked forgets the thread of class c untouched the longest.
func (t *Table) evictLocked(ctx context.Context, c class, now time.Time) {
	k := t.lru[c].Front().Value.(string)
	victim := t.m[k].t
	t.removeLocked(k)
	t.forgetLocked(ctx, victim.Channel, victim.Key)
	if t.evicted != nil {
		t.evicted(victim)
	}
	t.logged[c].evicted(t.log, c, t.budgets[c], victim, now)
}

// sweepLocked forgets the threads past their window at now.
func (t *Table) sweepLocked(ctx context.Context, now time.Time) {
	t.lastSweep = now
	for k, e := range t.m {
		if e.t.Expired(now) {
			t.removeLocked(k)
			t.forgetLocked(ctx, e.t.Channel, e.t.Key)
		}
	}
}

func (t *Table) removeLocked(k string) {
	e := t.m[k]
	t.lru[classOf(&e.t)].Remove(e.el)
	delete(t.m, k)
}

func (t *Table) forgetLocked(ctx context.Context, channel, key string) {
	if t.rec == nil {
		return
	}
	if err := t.rec.Forget(ctx, channel, key); err != nil {
		t.log.Warn("cannot forget a thread in the thread state; it is forgotten again after a restart", "channel", channel, "thread", key, "err", err)
	}
}

// Count is how many threads of channel are open (not forgotten) at now:
// the admin page shows it.
func (t *Table) Count(channel string, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.m {
		if e.t.Channel == channel && !e.t.Expired(now) {
			n++
		}
	}
	return n
}

// Close closes the Records when they can be closed.
func (t *Table) Close() error {
	if c, ok := t.rec.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// evictionLog says in the log that threads are evicted: every request's
// thread (each one matters, and there are few), thread_by threads the
// first time and then at most once a minute, with how many since.
type evictionLog struct {
	since int
	last  time.Time
}

func (l *evictionLog) evicted(log *slog.Logger, c class, budget int, victim Thread, now time.Time) {
	l.since++
	if c != classApproval && !l.last.IsZero() && now.Sub(l.last) < time.Minute {
		return
	}
	log.Warn("thread state is full; forgetting the threads untouched the longest (their next events start new threads)",
		"class", c.String(), "budget", budget, "forgotten", l.since, "channel", victim.Channel, "thread", victim.Key)
	l.since, l.last = 0, now
}
