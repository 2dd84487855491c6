// Package pipeline turns log lines into routed events: it unwraps container
// log formats, classifies each line, counts it, routes audit events and hands
// each (event, destination) to a Sink. It is the tailer's Handler; it never
// talks to Slack and never decodes a line no rule routes.
package pipeline

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
)

// Sink receives routed events: the delivery spools, or the dry-run printer.
type Sink interface {
	// Enqueue takes one event for one destination; line is only valid during
	// the call. queued is false when the destination already holds the event
	// at pos (the line was read again after a restart).
	Enqueue(d rules.Destination, line []byte, pos logpos.Position) (queued bool, err error)
	// Publish hands everything enqueued on: the senders may post it at
	// once, before it is durable.
	Publish()
	// Sync makes everything published durable (before the log is
	// checkpointed). It is called off the goroutine that enqueues, never at
	// the same time as Rollback.
	Sync() error
	// Rollback drops everything that is not durable: what was enqueued
	// since the last Publish, and after a failed Sync what was published
	// since the last good one.
	Rollback()
}

// Handler implements tailer.Handler. Its counts reach the metrics when a
// commit succeeds, so lines read again after an append failed are counted
// once. (After a failed fsync the lines since the last good one are read,
// and counted, again: their events may have gone out already, and go out
// again.)
type Handler struct {
	rules  atomic.Pointer[rules.Rules]
	unwrap *event.Unwrapper
	sink   Sink
	m      *metrics.Metrics
	err    error // first sink failure: nothing after it is enqueued
	// onUnrouted, when set, is told the action of each event no rule
	// routes (the dry run's summary); action is only valid during the call.
	onUnrouted func(action []byte)

	fields event.Fields  // the current line's fields, for where conditions
	router *rules.Router // routes with the rules in force (Line's goroutine only)

	lines    [4]pending // by event.Kind
	unrouted pending
	routed   map[string]*pending
	repeated map[string]*pending

	all []*pending // every count
}

// pending is a count not yet added to its counter.
type pending struct {
	c prometheus.Counter
	n int
}

// New returns a Handler routing with r.
func New(format event.Format, maxLine int, r *rules.Rules, sink Sink, m *metrics.Metrics) *Handler {
	h := &Handler{
		unwrap:   event.NewUnwrapper(format, maxLine),
		sink:     sink,
		m:        m,
		unrouted: pending{c: m.EventsUnrouted},
		routed:   map[string]*pending{},
		repeated: map[string]*pending{},
	}
	for k := event.KindEvent; k <= event.KindOversized; k++ {
		h.lines[k].c = m.LogLines.WithLabelValues(k.String())
		h.all = append(h.all, &h.lines[k])
	}
	h.all = append(h.all, &h.unrouted)
	h.rules.Store(r)
	return h
}

// SetRules swaps the routing rules; the next line is routed by them.
func (h *Handler) SetRules(r *rules.Rules) { h.rules.Store(r) }

// OnUnrouted makes the handler call f with the action of every event no
// rule routes. Set it before the first line.
func (h *Handler) OnUnrouted(f func(action []byte)) { h.onUnrouted = f }

// Rules returns the rules in force.
func (h *Handler) Rules() *rules.Rules { return h.rules.Load() }

// Line classifies, counts and routes one log line.
func (h *Handler) Line(raw []byte, end logpos.Position) {
	line, done, oversized := h.unwrap.Unwrap(raw)
	if !done {
		return
	}
	if oversized {
		h.lines[event.KindOversized].n++
		return
	}
	kind, action := event.Classify(line)
	h.lines[kind].n++
	if kind != event.KindEvent {
		return
	}
	if r := h.rules.Load(); h.router == nil || h.router.Rules() != r {
		h.router = r.Router() // new rules (a reload): their own plans
	}
	// The fields are indexed only for an action a rule with a where can
	// route: the other lines are scanned once.
	h.enqueue(h.router.RouteLine(line, action, &h.fields), line, action, end)
}

// Alert routes one of auditfwd's own alert events (a break in the gateway's
// audit chain) as Line routes an event, without counting it as a line read;
// when no rule routes it, it goes to the first configured channel, so that
// it always reaches someone.
func (h *Handler) Alert(line []byte, end logpos.Position) {
	r := h.rules.Load()
	_, action := event.ClassifyFields(line, &h.fields)
	dests := r.RouteEvent(action, &h.fields)
	if len(dests) == 0 {
		if first, ok := r.First(); ok {
			dests = []rules.Destination{first}
		}
	}
	h.enqueue(dests, line, action, end)
}

// enqueue hands the event to the sink once per destination.
func (h *Handler) enqueue(dests []rules.Destination, line, action []byte, end logpos.Position) {
	if len(dests) == 0 {
		h.unrouted.n++
		if h.onUnrouted != nil {
			h.onUnrouted(action)
		}
		return
	}
	if h.err != nil {
		return
	}
	for _, d := range dests {
		queued, err := h.sink.Enqueue(d, line, end)
		if err != nil {
			h.err = fmt.Errorf("queue event for %s: %w", d.Channel, err)
			return
		}
		if queued {
			h.counter(h.routed, h.m.EventsRouted, d.Channel).n++
		} else {
			h.counter(h.repeated, h.m.EventsRepeated, d.Channel).n++
		}
	}
}

func (h *Handler) counter(by map[string]*pending, vec *prometheus.CounterVec, channel string) *pending {
	p, ok := by[channel]
	if !ok {
		p = &pending{c: vec.WithLabelValues(channel)}
		by[channel] = p
		h.all = append(h.all, p)
	}
	return p
}

// Skip counts a line the tailer did not pass on.
func (h *Handler) Skip(kind event.Kind, _ logpos.Position) { h.lines[kind].n++ }

// Commit hands the events routed since the last Commit to the sink's
// senders (Publish), then publishes the counts. A failed enqueue fails the
// commit, so the log is never checkpointed past an event that was not
// queued. The events are durable after Sync.
func (h *Handler) Commit() (bool, error) {
	if h.err != nil {
		return false, h.err
	}
	h.sink.Publish()
	for _, p := range h.all {
		if p.n > 0 {
			p.c.Add(float64(p.n))
			p.n = 0
		}
	}
	return !h.unwrap.Pending(), nil
}

// Sync makes every event handed on by Commit durable. The tailer calls it
// off its read path, before it checkpoints.
func (h *Handler) Sync() error { return h.sink.Sync() }

// Rollback forgets everything that is not durable: the tailer hands those
// lines over again.
func (h *Handler) Rollback() {
	h.sink.Rollback()
	h.unwrap.Reset()
	h.err = nil
	for _, p := range h.all {
		p.n = 0
	}
}
