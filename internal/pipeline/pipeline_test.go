package pipeline

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
)

// memSink holds events by position like a spool: a position at or before
// the last one held is declined.
type memSink struct {
	last, synced logpos.Position
	n, syncedN   int
	failEnqueue  error
}

func (s *memSink) Enqueue(_ rules.Destination, _ []byte, pos logpos.Position) (bool, error) {
	if s.failEnqueue != nil {
		return false, s.failEnqueue
	}
	if !s.last.Less(pos) {
		return false, nil
	}
	s.last = pos
	s.n++
	return true, nil
}

func (s *memSink) Publish() {}

func (s *memSink) Sync() error {
	s.synced, s.syncedN = s.last, s.n
	return nil
}

func (s *memSink) Rollback() { s.last, s.n = s.synced, s.syncedN }

func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestRoutedCountsOnlyQueuedAndRepeatsAreCounted(t *testing.T) {
	m := metrics.New("test")
	sink := &memSink{}
	h := New(event.FormatJSON, 1<<20, exampleRules(t), sink, m)
	line := []byte(`{"action":"login.complete","status":"success"}`)
	h.Line(line, logpos.Position{Gen: 1, Offset: 100})
	h.Line(line, logpos.Position{Gen: 1, Offset: 200})
	commitSync(t, h)
	// Read again after a restart: both already held.
	h.Line(line, logpos.Position{Gen: 1, Offset: 100})
	h.Line(line, logpos.Position{Gen: 1, Offset: 200})
	h.Line(line, logpos.Position{Gen: 1, Offset: 300})
	commitSync(t, h)
	if got := value(t, m.EventsRouted.WithLabelValues("security")); got != 3 {
		t.Errorf("routed = %v, want 3 (only what was queued)", got)
	}
	if got := value(t, m.EventsRepeated.WithLabelValues("security")); got != 2 {
		t.Errorf("already queued = %v, want 2", got)
	}
	if got := value(t, m.LogLines.WithLabelValues("event")); got != 5 {
		t.Errorf("event lines = %v, want 5 (lines read)", got)
	}
}

func TestFailedCommitRollsBackCountsAndEvents(t *testing.T) {
	m := metrics.New("test")
	sink := &memSink{}
	h := New(event.FormatJSON, 1<<20, exampleRules(t), sink, m)
	line := []byte(`{"action":"login.complete","status":"success"}`)
	sink.failEnqueue = errors.New("no space left on device")
	h.Line(line, logpos.Position{Gen: 1, Offset: 100})
	h.Line([]byte("junk"), logpos.Position{Gen: 1, Offset: 105})
	if _, err := h.Commit(); err == nil {
		t.Fatal("commit succeeded after a failed enqueue")
	}
	h.Rollback()
	sink.failEnqueue = nil
	// The tailer hands the same lines over again.
	h.Line(line, logpos.Position{Gen: 1, Offset: 100})
	h.Line([]byte("junk"), logpos.Position{Gen: 1, Offset: 105})
	commitSync(t, h)
	if got := value(t, m.EventsRouted.WithLabelValues("security")); got != 1 {
		t.Errorf("routed = %v, want 1", got)
	}
	if got := value(t, m.LogLines.WithLabelValues("malformed")); got != 1 {
		t.Errorf("malformed = %v, want 1: lines read again after a rollback count once", got)
	}
	if sink.syncedN != 1 {
		t.Errorf("sink holds %d events, want 1", sink.syncedN)
	}
}

// commitSync is what the tailer does: Commit, then (off its read path) Sync.
func commitSync(t *testing.T, h *Handler) {
	t.Helper()
	if _, err := h.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
}
