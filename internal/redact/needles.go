package redact

import "strings"

// needleIndex finds, in one pass over a value, which detectors' needles it
// holds, so that only those detectors are tried: with some 40 detectors,
// asking each for its own substrings cost more than all the regular
// expressions together. Most bytes of a value start no needle; two tables
// let the pass tell so from the byte and the one after it, and compare
// needles only where one may start.
type needleIndex struct {
	single [256]uint64          // detectors with a one-byte needle, by that byte (both cases for fold)
	pairs  [1 << 16 / 64]uint64 // set for the first two bytes of any longer needle, in every case for fold
	first  [256][]needleRef     // the longer needles, by their first byte (both cases for fold)
	plain  uint64               // detectors without needles: always tried
}

// builtinIndex indexes builtins.
var builtinIndex = newNeedleIndex(builtins)

type needleRef struct {
	text string
	fold bool
	det  uint8 // index into the detector list
}

func newNeedleIndex(ds []*detector) *needleIndex {
	if len(ds) > 64 {
		panic("redact: more than 64 detectors")
	}
	ix := &needleIndex{}
	add := func(n string, fold bool, det int) {
		firsts := []byte{n[0]}
		if fold {
			firsts = cases(n[0])
		}
		if len(n) == 1 {
			for _, c := range firsts {
				ix.single[c] |= 1 << det
			}
			return
		}
		seconds := []byte{n[1]}
		if fold {
			// strings.EqualFold also matches a letter with a non-ASCII
			// rune (k with the Kelvin sign, s with the long s).
			seconds = cases(n[1])
			for b := 0x80; b <= 0xff; b++ {
				seconds = append(seconds, byte(b))
			}
		}
		for _, c := range firsts {
			ix.first[c] = append(ix.first[c], needleRef{text: n, fold: fold, det: uint8(det)})
			for _, d := range seconds {
				k := pair(c, d)
				ix.pairs[k/64] |= 1 << (k % 64)
			}
		}
	}
	for i, d := range ds {
		if len(d.needles) == 0 && len(d.fold) == 0 {
			ix.plain |= 1 << i
		}
		for _, n := range d.needles {
			add(n, false, i)
		}
		for _, n := range d.fold {
			add(n, true, i)
		}
	}
	return ix
}

// cases is c in lower and upper case (once when they are the same).
func cases(c byte) []byte {
	lo, up := strings.ToLower(string(c))[0], strings.ToUpper(string(c))[0]
	if lo == up {
		return []byte{c}
	}
	return []byte{lo, up}
}

func pair(a, b byte) uint { return uint(a)<<8 | uint(b) }

// candidates is the set of detectors (bit i for detector i) worth trying
// on s.
func (ix *needleIndex) candidates(s string) uint64 {
	m := ix.plain
	for i := 0; i+1 < len(s); i++ {
		m |= ix.single[s[i]]
		if k := pair(s[i], s[i+1]); ix.pairs[k/64]&(1<<(k%64)) == 0 {
			continue
		}
		for _, n := range ix.first[s[i]] {
			if m&(1<<n.det) != 0 || len(s)-i < len(n.text) {
				continue
			}
			if n.fold && strings.EqualFold(s[i:i+len(n.text)], n.text) || !n.fold && s[i:i+len(n.text)] == n.text {
				m |= 1 << n.det
			}
		}
	}
	if len(s) > 0 {
		m |= ix.single[s[len(s)-1]]
	}
	return m
}
