package event

import (
	"testing"

	"github.com/auditfwd/auditfwd/bench/workload"
)

// benchLines returns n lines of the reference workload of the given kinds
// (all kinds when none is given).
func benchLines(n int, kinds ...workload.Kind) [][]byte {
	g := workload.New(workload.DefaultSeed)
	var out [][]byte
	for len(out) < n {
		line, kind := g.Next()
		if len(kinds) > 0 {
			ok := false
			for _, k := range kinds {
				ok = ok || k == kind
			}
			if !ok {
				continue
			}
		}
		out = append(out, append([]byte(nil), line...))
	}
	return out
}

func BenchmarkClassify(b *testing.B) {
	for _, c := range []struct {
		name  string
		kinds []workload.Kind
	}{
		{"mix", nil},
		{"proxy", []workload.Kind{workload.Proxy}},
		{"http", []workload.Kind{workload.HTTP}},
		{"routed", []workload.Kind{workload.Routed}},
	} {
		b.Run(c.name, func(b *testing.B) {
			lines := benchLines(4096, c.kinds...)
			var size int64
			for _, l := range lines {
				size += int64(len(l))
			}
			b.SetBytes(size / int64(len(lines)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if k, _ := Classify(lines[i%len(lines)]); k == KindMalformed {
					b.Fatal("malformed")
				}
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	lines := benchLines(256, workload.Routed)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := Parse(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrap(b *testing.B) {
	line := benchLines(1, workload.Proxy)[0]
	docker := []byte(`{"log":"{\"action\":\"app.read\",\"action_type\":\"convox\",\"resource\":\"billing\",\"status\":\"success\",\"ts\":\"2026-03-20T01:12:46Z\"}\n","stream":"stdout","time":"2026-03-20T01:12:46.123456789Z"}`)
	cri := append([]byte("2026-03-20T01:12:44.123456789Z stdout F "), line...)
	for _, c := range []struct {
		name   string
		format Format
		line   []byte
	}{
		{"auto-json", FormatAuto, line},
		{"auto-docker", FormatAuto, docker},
		{"auto-cri", FormatAuto, cri},
	} {
		b.Run(c.name, func(b *testing.B) {
			u := NewUnwrapper(c.format, 1<<20)
			b.ReportAllocs()
			for b.Loop() {
				if _, done, _ := u.Unwrap(c.line); !done {
					b.Fatal("not done")
				}
			}
		})
	}
}

// BenchmarkClassifyPaths compares the two scanners on the reference mix:
// the fast path for flat lines and the general one every other line takes.
func BenchmarkClassifyPaths(b *testing.B) {
	lines := benchLines(4096)
	b.Run("flat", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, ok := classifyFlat(lines[i%len(lines)], nil); !ok {
				b.Fatal("not flat")
			}
		}
	})
	b.Run("any", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			classifyAny(lines[i%len(lines)], nil)
		}
	})
}
