package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// naiveCandidates is what candidates must find: every detector one of
// whose needles occurs in s (fold needles in any case, as strings.EqualFold
// compares), and every detector without needles.
func naiveCandidates(ds []*detector, s string) uint64 {
	var m uint64
	for i, d := range ds {
		if len(d.needles) == 0 && len(d.fold) == 0 {
			m |= 1 << i
		}
		for _, n := range d.needles {
			if strings.Contains(s, n) {
				m |= 1 << i
			}
		}
		for _, n := range d.fold {
			for j := 0; j+len(n) <= len(s); j++ {
				if strings.EqualFold(s[j:j+len(n)], n) {
					m |= 1 << i
				}
			}
		}
	}
	return m
}

// The index finds exactly the detectors whose needles a value holds, at
// its start, its end, anywhere between, in any case for fold needles: a
// sweep of random values built from needles, their pieces and other text.
func TestNeedleIndexFindsEveryNeedle(t *testing.T) {
	var pieces []string
	for _, d := range builtins {
		for _, n := range append(append([]string(nil), d.needles...), d.fold...) {
			pieces = append(pieces, n, strings.ToUpper(n), n[:len(n)/2+1], n[1:])
		}
	}
	pieces = append(pieces, "a", "Z", " ", "-", "é", "\u212a", "ſ", "dev@example.com", "Mozilla/5.0", "\xff")
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200000 {
		var b strings.Builder
		for range rng.IntN(6) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		if got, want := builtinIndex.candidates(s), naiveCandidates(builtins, s); got != want {
			t.Fatalf("value %d %q: candidates %b, want %b", i, s, got, want)
		}
	}
}
