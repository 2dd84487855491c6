package event

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// Kind is what a log line turned out to be (the `kind` label of auditfwd_log_lines_total).
type Kind uint8

const (
	KindEvent Kind = iota
	KindNotAudit
	KindMalformed
	KindOversized
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindNotAudit:
		return "not_audit"
	case KindMalformed:
		return "malformed"
	case KindOversized:
		return "oversized"
	}
	return "unknown"
}

const maxDepth = 256

// Classify validates line as one JSON object and finds its top-level "action"
// without decoding anything else: most lines are never routed, so the hot path
// must not pay for a full decode. action aliases line unless it held escapes.
//
// It is the hot path of a backlog: the common shapes (string, number and
// literal values of the top-level object) are scanned inline; nested objects
// and arrays go through scanner.value.
func Classify(line []byte) (Kind, []byte) { return classify(line, nil) }

// ClassifyFields is Classify that also indexes the line's top-level fields
// into f as it goes, so that routing conditions can read them afterwards
// without scanning the line again. f is valid for this line until the next
// call with it.
func ClassifyFields(line []byte, f *Fields) (Kind, []byte) {
	f.reset(line)
	return classify(line, f)
}

func classify(line []byte, f *Fields) (Kind, []byte) {
	if kind, action, ok := classifyFlat(line, f); ok {
		return kind, action
	}
	if f != nil {
		f.reset(line)
	}
	return classifyAny(line, f)
}

// classifyAny is classify for any line: the byte-at-a-time scanner.
func classifyAny(line []byte, f *Fields) (Kind, []byte) {
	b := line
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return KindMalformed, nil
	}
	i = skipWS(b, i+1)
	var action []byte
	haveAction, actionIsString := false, false
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			i = skipWS(b, i)
			ks, ke, kesc, j := scanString(b, i)
			if j < 0 {
				return KindMalformed, nil
			}
			i = j
			isAction := false
			if kesc {
				var k string
				if json.Unmarshal(b[ks-1:ke+1], &k) == nil && k == "action" {
					isAction = true
				}
			} else if string(b[ks:ke]) == "action" {
				isAction = true
			}
			i = skipWS(b, i)
			if i >= len(b) || b[i] != ':' {
				return KindMalformed, nil
			}
			i = skipWS(b, i+1)
			if i >= len(b) {
				return KindMalformed, nil
			}
			switch c := b[i]; {
			case c == '"':
				vs, ve, vesc, j := scanString(b, i)
				if j < 0 {
					return KindMalformed, nil
				}
				i = j
				if f != nil {
					f.add(ks, ke, kesc, vs, ve, spanString(vesc))
				}
				// The first occurrence wins, like the message formatter's view.
				if isAction && !haveAction {
					haveAction, actionIsString = true, true
					if vesc {
						var v string
						if json.Unmarshal(b[vs-1:ve+1], &v) != nil {
							return KindMalformed, nil
						}
						action = []byte(v)
					} else {
						action = b[vs:ve]
					}
				}
			case c == '-' || c >= '0' && c <= '9':
				vs := i
				if i = scanNumber(b, i); i < 0 {
					return KindMalformed, nil
				}
				if f != nil {
					f.add(ks, ke, kesc, vs, i, spanRaw)
				}
				haveAction = haveAction || isAction
			default:
				s := scanner{b: b, i: i}
				if !s.value(0) {
					return KindMalformed, nil
				}
				if f != nil {
					f.add(ks, ke, kesc, i, s.i, spanRaw)
				}
				i = s.i
				haveAction = haveAction || isAction
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return KindMalformed, nil
			}
			if b[i] == ',' {
				i++
				continue
			}
			if b[i] != '}' {
				return KindMalformed, nil
			}
			i++
			break
		}
	}
	if i = skipWS(b, i); i != len(b) {
		return KindMalformed, nil
	}
	if !actionIsString || len(action) == 0 {
		return KindNotAudit, nil
	}
	return KindEvent, action
}

// skipWS returns the index of the first byte at or after i that is not JSON
// whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		// Nearly always the next byte is not a space: one comparison.
		if c := b[i]; c > ' ' || c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return i
		}
		i++
	}
	return i
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() { s.i = skipWS(s.b, s.i) }

// str scans a string at s.i and returns the bounds of its contents.
func (s *scanner) str() (start, end int, escaped, ok bool) {
	start, end, escaped, j := scanString(s.b, s.i)
	if j < 0 {
		return 0, 0, false, false
	}
	s.i = j
	return start, end, escaped, true
}

// scanString scans the string that starts at b[i] and returns the bounds of
// its contents and the index after its closing quote (next), or next < 0
// when there is no valid string at i.
func scanString(b []byte, i int) (start, end int, escaped bool, next int) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, false, -1
	}
	i++
	start = i
	for {
		// Eight bytes at a time to the next quote, backslash or control
		// character: string contents are most of a line's bytes.
		for i+8 <= len(b) {
			if m := specialMask(binary.LittleEndian.Uint64(b[i : i+8])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0, 0, false, -1
		}
		switch c := b[i]; {
		case c == '"':
			return start, i, escaped, i + 1
		case c == '\\':
			escaped = true
			i++
			if i >= len(b) {
				return 0, 0, false, -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) {
					return 0, 0, false, -1
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, 0, false, -1
					}
				}
				i += 5
			default:
				return 0, 0, false, -1
			}
		case c < 0x20:
			return 0, 0, false, -1
		default:
			i++
		}
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask has the high bit set in the byte of w (little endian) that is
// the first '"', '\\' or control character, and possibly in later bytes;
// it is zero when w holds none. (Each term is exact for its lowest byte: a
// borrow only propagates upwards from a byte that matched.)
func specialMask(w uint64) uint64 {
	q := w ^ (lsb * '"')
	bs := w ^ (lsb * '\\')
	return ((q-lsb)&^q | (bs-lsb)&^bs | (w-lsb*0x20)&^w) & msb
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, _, ok := s.str()
		return ok
	case c == '{':
		s.i++
		s.ws()
		if s.peek() == '}' {
			s.i++
			return true
		}
		for {
			s.ws()
			if _, _, _, ok := s.str(); !ok {
				return false
			}
			s.ws()
			if s.peek() != ':' {
				return false
			}
			s.i++
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			s.ws()
			if !s.value(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number follows JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	j := scanNumber(s.b, s.i)
	if j < 0 {
		return false
	}
	s.i = j
	return true
}

// scanNumber scans the number at b[i] and returns the index after it, or -1.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
