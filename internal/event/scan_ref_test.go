package event

// The reference implementation of Classify, kept to test the optimised one.

import (
	"encoding/json"
	"testing"
)

const refMaxDepth = 256

// classifyRef is Classify as first written (byte at a time); the fuzz
// test holds the fast one to it. It validates line as one JSON object and finds its top-level "action"
// without decoding anything else: most lines are never routed, so the hot path
// must not pay for a full decode. action aliases line unless it held escapes.
func classifyRef(line []byte) (Kind, []byte) {
	s := refScanner{b: line}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return KindMalformed, nil
	}
	s.i++
	var action []byte
	haveAction, actionIsString := false, false
	s.ws()
	if s.peek() == '}' {
		s.i++
	} else {
		for {
			s.ws()
			ks, ke, kesc, ok := s.str()
			if !ok {
				return KindMalformed, nil
			}
			isAction := false
			if kesc {
				var k string
				if json.Unmarshal(s.b[ks-1:ke+1], &k) == nil && k == "action" {
					isAction = true
				}
			} else if string(s.b[ks:ke]) == "action" {
				isAction = true
			}
			s.ws()
			if s.peek() != ':' {
				return KindMalformed, nil
			}
			s.i++
			s.ws()
			if isAction && s.peek() == '"' {
				vs, ve, vesc, ok := s.str()
				if !ok {
					return KindMalformed, nil
				}
				// The first occurrence wins, like the message formatter's view.
				if !haveAction {
					haveAction, actionIsString = true, true
					if vesc {
						var v string
						if json.Unmarshal(s.b[vs-1:ve+1], &v) != nil {
							return KindMalformed, nil
						}
						action = []byte(v)
					} else {
						action = s.b[vs:ve]
					}
				}
			} else {
				if isAction && !haveAction {
					haveAction = true
				}
				if !s.value(0) {
					return KindMalformed, nil
				}
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				continue
			case '}':
				s.i++
			default:
				return KindMalformed, nil
			}
			break
		}
	}
	s.ws()
	if s.i != len(s.b) {
		return KindMalformed, nil
	}
	if !actionIsString || len(action) == 0 {
		return KindNotAudit, nil
	}
	return KindEvent, action
}

type refScanner struct {
	b []byte
	i int
}

func (s *refScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *refScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// str scans a string at s.i and returns the bounds of its contents.
func (s *refScanner) str() (start, end int, escaped, ok bool) {
	if s.peek() != '"' {
		return 0, 0, false, false
	}
	s.i++
	start = s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, escaped, true
		case c == '\\':
			escaped = true
			s.i++
			if s.i >= len(s.b) {
				return 0, 0, false, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) {
					return 0, 0, false, false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !refIsHex(h) {
						return 0, 0, false, false
					}
				}
				s.i += 5
			default:
				return 0, 0, false, false
			}
		case c < 0x20:
			return 0, 0, false, false
		default:
			s.i++
		}
	}
	return 0, 0, false, false
}

func refIsHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *refScanner) value(depth int) bool {
	if depth > refMaxDepth {
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

func (s *refScanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// number follows JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *refScanner) number() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case c >= '1' && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

func (s *refScanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

func FuzzClassifyAgreesWithReference(f *testing.F) {
	for _, s := range []string{
		`{"action":"login.complete","status":"success"}`,
		` {"ts":"2026-03-20T01:12:44Z", "action" : "logout" } `,
		`{"a":{"action":"x"},"action":"release.promote"}`,
		`{"action":"a\u002eb"}`, `{"\u0061ction":"a.b"}`,
		`{"method":"GET","path":"/","status":200}`,
		`{"action":5,"action":"x"}`, `{"action":"x","action":"y"}`,
		`{"action":"x","n":-1.5e+3,"b":true,"z":null,"l":[1,{"a":[]}]}`,
		`{"action":"x","n":01}`, `{"action":"x","n":1.}`, `{"n":-}`, `{"n":1e}`, `{"n":1E+5}`,
		"{\"action\":\"x\ty\"}", `{"action":"\"quoted\" \\ back"}`,
		`{"k":"0123456789abcdef\"0123456789"}`, `{"k":"\ud800"}`, "{\"k\":\"\xff\xfe\x80\"}",
		`{"action":"x"} `, `{}`, `{ }`, `{"a":[ ]}`, `{"a":{ }}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		k1, a1 := Classify([]byte(line))
		k2, a2 := classifyRef([]byte(line))
		if k1 != k2 || string(a1) != string(a2) {
			t.Fatalf("Classify(%q) = %v %q, reference %v %q", line, k1, a1, k2, a2)
		}
	})
}

func TestClassifyAgreesWithReferenceOnWorkload(t *testing.T) {
	for _, line := range benchLines(20000) {
		for _, cut := range []int{len(line), len(line) - 1, len(line) / 2, 7} {
			l := line[:cut]
			k1, a1 := Classify(l)
			k2, a2 := classifyRef(l)
			if k1 != k2 || string(a1) != string(a2) {
				t.Fatalf("Classify(%q) = %v %q, reference %v %q", l, k1, a1, k2, a2)
			}
		}
	}
}
