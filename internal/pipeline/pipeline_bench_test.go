package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// nopSink takes events and drops them.
type nopSink struct{ n int }

func (s *nopSink) Enqueue(rules.Destination, []byte, logpos.Position) (bool, error) {
	s.n++
	return true, nil
}
func (s *nopSink) Publish()    {}
func (s *nopSink) Sync() error { return nil }
func (s *nopSink) Rollback()   {}

// exampleRules are the channels of configs/example.yaml.
func exampleRules(tb testing.TB) *rules.Rules {
	tb.Helper()
	cfg, err := config.Load("../../configs/example.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// workloadLines returns n lines of the reference workload, of the given
// kinds (all when none is given), and their average size.
func workloadLines(n int, kinds ...workload.Kind) ([][]byte, int64) {
	g := workload.New(workload.DefaultSeed)
	var out [][]byte
	var size int64
	for len(out) < n {
		line, kind := g.Next()
		ok := len(kinds) == 0
		for _, k := range kinds {
			ok = ok || k == kind
		}
		if ok {
			out = append(out, append([]byte(nil), line...))
			size += int64(len(line))
		}
	}
	return out, size / int64(n)
}

func newBenchHandler(tb testing.TB, format event.Format) (*Handler, *nopSink) {
	sink := &nopSink{}
	return New(format, 1<<20, exampleRules(tb), sink, metrics.New("bench")), sink
}

// BenchmarkHandlerLine is the per-line cost of the hot path, line → event →
// routes, on the reference mix (70% proxy events, 20% HTTP lines, 1%
// routed, 9% other actions) with a sink that drops the routed events.
func BenchmarkHandlerLine(b *testing.B) {
	for _, c := range []struct {
		name  string
		kinds []workload.Kind
	}{
		{"mix", nil},
		{"unrouted", []workload.Kind{workload.Proxy, workload.Unrouted}},
		{"not_audit", []workload.Kind{workload.HTTP}},
		{"routed", []workload.Kind{workload.Routed}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lines, avg := workloadLines(10000, c.kinds...)
			h, _ := newBenchHandler(b, event.FormatAuto)
			for i, l := range lines { // warm the route cache
				h.Line(l, logpos.Position{Gen: 1, Offset: int64(i)})
			}
			b.SetBytes(avg)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.Line(lines[i%len(lines)], logpos.Position{Gen: 1, Offset: int64(i)})
			}
		})
	}
}

// wrap puts each line in a container runtime's log format.
func wrap(lines [][]byte, format event.Format) [][]byte {
	out := make([][]byte, len(lines))
	for i, l := range lines {
		switch format {
		case event.FormatDocker:
			s, _ := json.Marshal(string(l) + "\n")
			out[i] = fmt.Appendf(nil, `{"log":%s,"stream":"stdout","time":"2026-03-20T01:12:44.123456789Z"}`, s)
		case event.FormatCRI:
			out[i] = append([]byte("2026-03-20T01:12:44.123456789Z stdout F "), l...)
		default:
			out[i] = l
		}
	}
	return out
}

// BenchmarkHandlerLineWrapped is BenchmarkHandlerLine/mix with every line
// in Docker's json-file or the CRI format (audit_log.format: auto).
func BenchmarkHandlerLineWrapped(b *testing.B) {
	for _, c := range []struct {
		name   string
		format event.Format
	}{{"docker", event.FormatDocker}, {"cri", event.FormatCRI}} {
		b.Run(c.name, func(b *testing.B) {
			plain, avg := workloadLines(10000)
			lines := wrap(plain, c.format)
			h, _ := newBenchHandler(b, event.FormatAuto)
			for i, l := range lines {
				h.Line(l, logpos.Position{Gen: 1, Offset: int64(i)})
			}
			b.SetBytes(avg)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				h.Line(lines[i%len(lines)], logpos.Position{Gen: 1, Offset: int64(i)})
			}
		})
	}
}

// TestLineDoesNotAllocate guards the zero-allocation hot path: a line that
// is not routed, or routed to a sink that copies it, costs no allocation
// once its action has been seen.
func TestLineDoesNotAllocate(t *testing.T) {
	plain, _ := workloadLines(2000)
	for _, format := range []event.Format{event.FormatJSON, event.FormatDocker, event.FormatCRI} {
		lines := wrap(plain, format)
		h, sink := newBenchHandler(t, event.FormatAuto)
		for i, l := range lines {
			h.Line(l, logpos.Position{Gen: 1, Offset: int64(i)})
		}
		i := 0
		allocs := testing.AllocsPerRun(10000, func() {
			h.Line(lines[i%len(lines)], logpos.Position{Gen: 1, Offset: int64(i)})
			i++
		})
		if allocs != 0 {
			t.Errorf("format %d: Handler.Line allocates %.2f times a line", format, allocs)
		}
		if sink.n == 0 {
			t.Errorf("format %d: nothing routed", format)
		}
	}
}

// BenchmarkCatchUpOnce reads a 100,000-line reference log from start to end
// through the tailer and the Handler, routed events going to a sink that
// drops them: the in-process part of a catch-up (one op = the whole file).
func BenchmarkCatchUpOnce(b *testing.B) {
	const lines = 100_000
	dir := b.TempDir()
	path := filepath.Join(dir, "audit.log")
	st, err := workload.WriteFile(path, lines, workload.DefaultSeed)
	if err != nil {
		b.Fatal(err)
	}
	h, sink := newBenchHandler(b, event.FormatAuto)
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		sink.n = 0
		t := tailer.New(tailer.Options{Path: path, Once: true, CheckpointPath: statedir.Dir(dir).Checkpoint()}, h)
		if err := t.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if sink.n != st.Routed {
			b.Fatalf("%d routed, want %d", sink.n, st.Routed)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
