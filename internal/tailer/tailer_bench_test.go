package tailer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

type countHandler struct{ lines, bytes int }

func (h *countHandler) Line(line []byte, _ logpos.Position) { h.lines++; h.bytes += len(line) }
func (h *countHandler) Skip(event.Kind, logpos.Position)    {}
func (h *countHandler) Commit() (bool, error)               { return true, nil }
func (h *countHandler) Sync() error                         { return nil }
func (h *countHandler) Rollback()                           {}

// BenchmarkReadOnce is the tailer's own cost through a backlog: bulk
// positioned reads, line splitting and checkpoints, with a handler that only
// counts (one op = the whole 100,000-line file).
func BenchmarkReadOnce(b *testing.B) {
	const lines = 100_000
	dir := b.TempDir()
	path := filepath.Join(dir, "audit.log")
	st, err := workload.WriteFile(path, lines, workload.DefaultSeed)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		h := &countHandler{}
		t := New(Options{Path: path, Once: true, CheckpointPath: filepath.Join(dir, "checkpoint.json")}, h)
		if err := t.Run(context.Background()); err != nil {
			b.Fatal(err)
		}
		if h.lines != lines {
			b.Fatalf("%d lines", h.lines)
		}
	}
	b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
