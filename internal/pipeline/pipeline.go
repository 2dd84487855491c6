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
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// Sink receives routed events: the delivery spools, or the dry-run printer.
type Sink interface {
	// Enqueue takes one event for one destination; line is only valid during the call.
	Enqueue(d rules.Destination, line []byte, pos tailer.Position) error
	// Sync makes everything enqueued durable (before the log is checkpointed).
	Sync() error
}

// Handler implements tailer.Handler.
type Handler struct {
	rules  atomic.Pointer[rules.Rules]
	unwrap *event.Unwrapper
	sink   Sink
	m      *metrics.Metrics
	lines  [4]prometheus.Counter // by event.Kind
	routed map[string]prometheus.Counter
	err    error // first sink failure: nothing after it is enqueued

	fields event.Fields // the current line's fields, for where conditions
}

// New returns a Handler routing with r.
func New(format event.Format, maxLine int, r *rules.Rules, sink Sink, m *metrics.Metrics) *Handler {
	h := &Handler{
		unwrap: event.NewUnwrapper(format, maxLine),
		sink:   sink,
		m:      m,
		routed: map[string]prometheus.Counter{},
	}
	for k := event.KindEvent; k <= event.KindOversized; k++ {
		h.lines[k] = m.LogLines.WithLabelValues(k.String())
	}
	h.rules.Store(r)
	return h
}

// SetRules swaps the routing rules; the next line is routed by them.
func (h *Handler) SetRules(r *rules.Rules) { h.rules.Store(r) }

// Rules returns the rules in force.
func (h *Handler) Rules() *rules.Rules { return h.rules.Load() }

// Line classifies, counts and routes one log line.
func (h *Handler) Line(raw []byte, end tailer.Position) {
	line, done, oversized := h.unwrap.Unwrap(raw)
	if !done {
		return
	}
	if oversized {
		h.lines[event.KindOversized].Inc()
		return
	}
	r := h.rules.Load()
	var kind event.Kind
	var action []byte
	if r.HasWhere() { // indexing the fields costs every line a little
		kind, action = event.ClassifyFields(line, &h.fields)
	} else {
		kind, action = event.Classify(line)
	}
	h.lines[kind].Inc()
	if kind != event.KindEvent {
		return
	}
	dests := r.RouteEvent(action, &h.fields)
	if len(dests) == 0 {
		h.m.EventsUnrouted.Inc()
		return
	}
	if h.err != nil {
		return
	}
	for _, d := range dests {
		if err := h.sink.Enqueue(d, line, end); err != nil {
			h.err = fmt.Errorf("queue event for %s: %w", d.Channel, err)
			return
		}
		h.routedCounter(d.Channel).Inc()
	}
}

func (h *Handler) routedCounter(name string) prometheus.Counter {
	c, ok := h.routed[name]
	if !ok {
		c = h.m.EventsRouted.WithLabelValues(name)
		h.routed[name] = c
	}
	return c
}

// Skip counts a line the tailer did not pass on.
func (h *Handler) Skip(kind event.Kind, _ tailer.Position) { h.lines[kind].Inc() }

// Commit syncs the sink. A failed enqueue fails the commit, so the log is
// never checkpointed past an event that was not queued.
func (h *Handler) Commit() (bool, error) {
	if h.err != nil {
		return false, h.err
	}
	if err := h.sink.Sync(); err != nil {
		return false, err
	}
	return !h.unwrap.Pending(), nil
}
