package redact

import "strings"

// needleIndex finds, in one pass over a value, which detectors' needles it
// holds, so that only those detectors are tried: with some 40 detectors,
// asking each for its own substrings cost more than all the regular
// expressions together.
type needleIndex struct {
	first [256][]needleRef // by the needle's first byte (both cases for fold)
	plain uint64           // detectors without needles: always tried
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
	for i, d := range ds {
		if len(d.needles) == 0 && len(d.fold) == 0 {
			ix.plain |= 1 << i
		}
		for _, n := range d.needles {
			ix.first[n[0]] = append(ix.first[n[0]], needleRef{text: n, det: uint8(i)})
		}
		for _, n := range d.fold {
			lo, up := strings.ToLower(n[:1])[0], strings.ToUpper(n[:1])[0]
			ix.first[lo] = append(ix.first[lo], needleRef{text: n, fold: true, det: uint8(i)})
			if up != lo {
				ix.first[up] = append(ix.first[up], needleRef{text: n, fold: true, det: uint8(i)})
			}
		}
	}
	return ix
}

// candidates is the set of detectors (bit i for detector i) worth trying
// on s.
func (ix *needleIndex) candidates(s string) uint64 {
	m := ix.plain
	for i := 0; i < len(s); i++ {
		for _, n := range ix.first[s[i]] {
			if m&(1<<n.det) != 0 || len(s)-i < len(n.text) {
				continue
			}
			if n.fold && strings.EqualFold(s[i:i+len(n.text)], n.text) || !n.fold && s[i:i+len(n.text)] == n.text {
				m |= 1 << n.det
			}
		}
	}
	return m
}
