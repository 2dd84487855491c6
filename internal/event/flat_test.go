package event

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// scanBlocks (SSE2 on amd64) and its portable twin agree on every kind of
// byte, in every position of a block.
func TestScanBlocksAgreesWithGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	interesting := []byte{'"', '\\', 0, 0x1f, 0x20, 0x21, '#', 0x7f, 0x80, 0x9f, 0xa0, 0xff, 'a', '{'}
	for round := range 2000 {
		p := make([]byte, 64*(1+rng.IntN(flatMax/64)))
		for i := range p {
			if rng.IntN(4) == 0 {
				p[i] = interesting[rng.IntN(len(interesting))]
			} else {
				p[i] = byte(rng.IntN(256))
			}
		}
		if round%2 == 0 { // lines without odd bytes too, or odd would always be true
			for i, c := range p {
				if c == '\\' || c < 0x20 {
					p[i] = 'x'
				}
			}
		}
		got, want := make([]uint64, len(p)/64), make([]uint64, len(p)/64)
		oddGot, oddWant := scanBlocks(p, got), scanBlocksGo(p, want)
		if oddGot != oddWant {
			t.Fatalf("round %d: odd = %v, portable %v", round, oddGot, oddWant)
		}
		for k := range got {
			if got[k] != want[k] {
				t.Fatalf("round %d block %d: quotes %064b, portable %064b", round, k, got[k], want[k])
			}
		}
		for k, q := range want {
			for j := range 64 {
				if (q>>j&1 == 1) != (p[64*k+j] == '"') {
					t.Fatalf("round %d: bit %d of block %d wrong for %q", round, j, k, p[64*k+j])
				}
			}
		}
	}
}

// checkFlat: whenever the fast path answers, its answer and its field
// index are the general scanner's.
func checkFlat(t *testing.T, line []byte) bool {
	t.Helper()
	var ff, fa Fields
	ff.reset(line)
	kf, af, ok := classifyFlat(line, &ff)
	if !ok {
		return false
	}
	fa.reset(line)
	ka, aa := classifyAny(line, &fa)
	if kf != ka || string(af) != string(aa) {
		t.Fatalf("classifyFlat(%q) = %v %q, classifyAny %v %q", line, kf, af, ka, aa)
	}
	if ff.n != fa.n || ff.overflow != fa.overflow || !slices.Equal(ff.spans[:ff.n], fa.spans[:fa.n]) {
		t.Fatalf("classifyFlat(%q) indexed %d fields %v, classifyAny %d %v", line, ff.n, ff.spans[:ff.n], fa.n, fa.spans[:fa.n])
	}
	return true
}

// The gateway's lines take the fast path, and so do their mutations that
// it accepts; every answer is the general scanner's.
func TestClassifyFlatAgreesWithClassifyAny(t *testing.T) {
	lines := benchLines(2000)
	for _, l := range lines {
		if !checkFlat(t, l) {
			t.Fatalf("a reference line missed the fast path: %s", l)
		}
	}
	for _, s := range classifySeeds {
		checkFlat(t, []byte(s))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	subst := []byte(`"\{}[]:,0-1.eE+ tfn` + "\x00\x1f\t\xff")
	accepted, rejected := 0, 0
	for _, l := range lines[:300] {
		for range 40 {
			m := append([]byte(nil), l...)
			switch i := rng.IntN(len(m)); rng.IntN(3) {
			case 0:
				m[i] = subst[rng.IntN(len(subst))]
			case 1:
				m = append(m[:i], m[i+1:]...)
			default:
				m = append(m[:i], append([]byte{subst[rng.IntN(len(subst))]}, m[i:]...)...)
			}
			if checkFlat(t, m) {
				accepted++
			} else {
				rejected++
			}
		}
	}
	// Both sides of the fast path were exercised.
	if accepted < 1000 || rejected < 1000 {
		t.Errorf("mutations: %d took the fast path, %d did not", accepted, rejected)
	}
}

func FuzzClassifyFlatAgreesWithClassifyAny(f *testing.F) {
	for _, s := range classifySeeds {
		f.Add(s)
	}
	for _, l := range benchLines(20) {
		f.Add(string(l))
	}
	f.Fuzz(func(t *testing.T, line string) { checkFlat(t, []byte(line)) })
}
