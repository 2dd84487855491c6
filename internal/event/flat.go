package event

import (
	"encoding/binary"
	"math/bits"
	"strings"
)

// The gateway writes flat objects: string, number and literal values, no
// escapes, a few hundred bytes. classifyFlat validates exactly those in two
// passes, the way SIMD JSON parsers do: the first (scanBlocks: SSE2 on
// amd64, eight bytes at a time in portable Go elsewhere) finds every quote
// of the line into a bitmap and checks for backslashes and control
// characters, without a branch on the data; the second walks the bitmap
// from string to string and checks only the few bytes between strings.
// The byte-at-a-time scanner (classifyAny) spends most of its time in a
// mispredicted branch at the end of every string, whose length varies
// line to line. Any other line, and any line the fast path cannot prove
// valid, goes to classifyAny, which decides.

// flatMax is the longest line classifyFlat takes: its quote bitmap lives on
// the stack.
const flatMax = 2048

// actionKey is the bytes `"action"` as a little-endian word.
const actionKey = '"' | 'a'<<8 | 'c'<<16 | 't'<<24 | 'i'<<32 | 'o'<<40 | 'n'<<48 | '"'<<56

const (
	lsb7 = 0x7f7f7f7f7f7f7f7f
	// gather moves the low bit of each byte of a word into one byte: bit j
	// of (x*gather)>>56 is bit 0 of byte j when x has only those bits set.
	gather = 0x0102040810204080
)

// classifyFlat is classify for a line without backslashes, control
// characters, nested objects or arrays: ok is false for any other line,
// and for any line it cannot prove valid, and the caller then runs the
// general scanner. When ok, its answer is classify's.
func classifyFlat(line []byte, f *Fields) (kind Kind, action []byte, ok bool) {
	b := line
	if len(b) > flatMax {
		return 0, nil, false
	}
	// Pass 1: the quote bitmap, one bit per byte; and whether any byte is a
	// backslash or a control character (JSON forbids control characters in
	// strings; outside strings only white space may be one).
	var quotes [flatMax / 64]uint64
	whole := len(b) &^ 63
	odd := scanBlocks(b[:whole], quotes[:])
	if whole < len(b) {
		tail := spaces
		copy(tail[:], b[whole:])
		odd = scanBlocks(tail[:], quotes[whole>>6:]) || odd
	}
	if odd {
		return 0, nil, false
	}

	// Pass 2: walk the object from string to string. next returns the
	// position of the next quote not consumed yet: it follows the bitmap
	// alone, so it never waits for the walk to find where a string ends.
	blk, cur := 0, quotes[0]
	next := func() int {
		for cur == 0 {
			if blk++; blk<<6 >= len(b) {
				return -1
			}
			cur = quotes[blk]
		}
		p := blk<<6 + bits.TrailingZeros64(cur)
		cur &= cur - 1
		return p
	}
	haveAction, actionIsString := false, false
	i := 0
	if i >= len(b) || b[i] != '{' {
		return 0, nil, false
	}
	i++
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, nil, false
			}
			next() // i: every quote before it belonged to a consumed string
			ke := next()
			if ke < 0 {
				return 0, nil, false
			}
			ks := i + 1
			// `"action"` is eight bytes: one comparison.
			isAction := ke == i+7 && binary.LittleEndian.Uint64(b[i:]) == actionKey
			i = ke + 1
			if i >= len(b) || b[i] != ':' {
				return 0, nil, false
			}
			i++
			if i >= len(b) {
				return 0, nil, false
			}
			switch c := b[i]; {
			case c == '"':
				next()
				ve := next()
				if ve < 0 {
					return 0, nil, false
				}
				if f != nil {
					f.add(ks, ke, false, i+1, ve, spanPlainStr)
				}
				if isAction && !haveAction {
					haveAction, actionIsString = true, true
					action = b[i+1 : ve]
				}
				i = ve + 1
			case c == '-' || c >= '0' && c <= '9':
				vs := i
				if i = scanNumber(b, i); i < 0 {
					return 0, nil, false
				}
				if f != nil {
					f.add(ks, ke, false, vs, i, spanRaw)
				}
				haveAction = haveAction || isAction
			default:
				vs := i
				switch c {
				case 't':
					i = literalEnd(b, i, "true")
				case 'f':
					i = literalEnd(b, i, "false")
				case 'n':
					i = literalEnd(b, i, "null")
				default: // an object, an array, white space or an error
					return 0, nil, false
				}
				if i < 0 {
					return 0, nil, false
				}
				if f != nil {
					f.add(ks, ke, false, vs, i, spanRaw)
				}
				haveAction = haveAction || isAction
			}
			if i >= len(b) {
				return 0, nil, false
			}
			if b[i] == ',' {
				i++
				continue
			}
			if b[i] != '}' {
				return 0, nil, false
			}
			i++
			break
		}
	}
	if i != len(b) {
		return 0, nil, false
	}
	if !actionIsString || len(action) == 0 {
		return KindNotAudit, nil, true
	}
	return KindEvent, action, true
}

// spaces pads the last block: a space is neither a quote nor odd.
var spaces = [64]byte([]byte(strings.Repeat(" ", 64)))

// scanBlocksGo is scanBlocks in portable Go, eight bytes at a time.
func scanBlocksGo(p []byte, quotes []uint64) (odd bool) {
	var o uint64
	for k := 0; k+64 <= len(p); k += 64 {
		var q uint64
		for j := 0; j < 64; j += 8 {
			w := binary.LittleEndian.Uint64(p[k+j:])
			q |= quoteBits(w) << j
			bs := w ^ (lsb * '\\')
			o |= (w-lsb*0x20)&^w | (bs-lsb)&^bs
		}
		quotes[k>>6] = q
	}
	return o&msb != 0
}

// quoteBits returns one bit per byte of w (little endian), set where the
// byte is a double quote. Unlike specialMask it is exact in every byte.
func quoteBits(w uint64) uint64 {
	t := w ^ (lsb * '"')
	z := ^((t & lsb7) + lsb7 | t) & msb // high bit of each zero byte of t
	return (z >> 7) * gather >> 56
}

// literalEnd returns the index after lit at b[i], or -1.
func literalEnd(b []byte, i int, lit string) int {
	if len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit {
		return i + len(lit)
	}
	return -1
}
