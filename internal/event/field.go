package event

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Value locates one top-level field's value in a line, as Fields.Lookup
// found it. The zero Value is a missing field.
type Value struct {
	start, end int32 // the value's bytes; a string's contents without its quotes
	kind       valueKind
}

type valueKind uint8

const (
	valueMissing   valueKind = iota
	valueNull                // null: the empty string, like a missing field
	valuePlain               // a string without escapes, an integer, true or false: its bytes are its text
	valueString              // a string with escapes or invalid UTF-8: decoded
	valueNumber              // a number with a fraction or exponent: shortest decimal form
	valueComposite           // an object or an array: compact JSON
)

// Present reports whether the line has the field with a value other than null.
func (v Value) Present() bool { return v.kind > valueNull }

// maxIndexed bounds the fields Fields indexes; a line with more (the
// gateway writes about fifteen) is looked up by scanning it.
const maxIndexed = 48

// Fields is an index of one line's top-level fields, filled by
// ClassifyFields while it validates the line: Lookup then finds a field
// without reading the line again. Its zero value is ready to use.
type Fields struct {
	line     []byte
	n        int
	overflow bool // more fields than the index holds: Lookup scans the line
	spans    [maxIndexed]span
}

// span is one field: where its key and value sit, as offsets into the line.
type span struct {
	ks, ke, vs, ve int32 // key contents; value (a string's contents, else the raw value)
	kesc           bool  // the key holds escapes
	kind           spanKind
}

type spanKind uint8

const (
	spanRaw       spanKind = iota // a number, literal, object or array
	spanPlainStr                  // a string without escapes
	spanEscString                 // a string with escapes
)

func spanString(escaped bool) spanKind {
	if escaped {
		return spanEscString
	}
	return spanPlainStr
}

func (f *Fields) reset(line []byte) {
	f.line, f.n = line, 0
	f.overflow = len(line) > math.MaxInt32
}

func (f *Fields) add(ks, ke int, kesc bool, vs, ve int, kind spanKind) {
	if f.n == len(f.spans) || f.overflow {
		f.overflow = true
		return
	}
	f.spans[f.n] = span{ks: int32(ks), ke: int32(ke), vs: int32(vs), ve: int32(ve), kesc: kesc, kind: kind}
	f.n++
}

// Line returns the line the index describes.
func (f *Fields) Line() []byte { return f.line }

// Lookup finds keys among the indexed line's top-level fields without
// reading the line again: vals[i] is where keys[i]'s first occurrence sits,
// the zero Value when it has none. vals must be at least as long as keys.
// It is what a routing rule's `where` reads (docs/rules.md): only the
// fields it names, only for events whose action a rule with a `where`
// matched. A line with more fields than the index holds is scanned
// (lookupFields).
func (f *Fields) Lookup(keys []string, vals []Value) {
	if f.overflow {
		lookupFields(f.line, keys, vals)
		return
	}
	vals = vals[:len(keys)]
	clear(vals)
	// One pass over the fields; a key whose length no wanted key has is
	// passed over with one test.
	var lens uint64
	for _, k := range keys {
		lens |= 1 << min(len(k), 63)
	}
	b := f.line
	left := len(keys)
	for i := range f.spans[:f.n] {
		sp := &f.spans[i]
		if lens&(1<<min(sp.ke-sp.ks, 63)) == 0 && !sp.kesc {
			continue
		}
		var k int
		if sp.kesc {
			k = keyIndex(b[sp.ks:sp.ke], true, keys, vals)
		} else {
			k = missingKey(b[sp.ks:sp.ke], keys, vals)
		}
		if k >= 0 {
			vals[k] = valueOf(b, int(sp.vs), int(sp.ve), sp.kind)
			if left--; left == 0 {
				return
			}
		}
	}
}

// missingKey returns the index of the key not found yet that equals key, or -1.
func missingKey(key []byte, keys []string, vals []Value) int {
	for k, want := range keys {
		if vals[k].kind == valueMissing && string(key) == want {
			return k
		}
	}
	return -1
}

// valueOf classifies the value at b[vs:ve].
func valueOf(b []byte, vs, ve int, kind spanKind) Value {
	v := Value{start: int32(vs), end: int32(ve), kind: valuePlain}
	raw := b[vs:ve]
	switch {
	case kind == spanEscString:
		v.kind = valueString
	case kind == spanPlainStr:
		if !utf8.Valid(raw) {
			v.kind = valueString
		}
	case len(raw) == 0: // only in a line that is not valid JSON
	case raw[0] == 'n':
		v.kind = valueNull
	case raw[0] == '{' || raw[0] == '[':
		v.kind = valueComposite
	case raw[0] != 't' && raw[0] != 'f' && bytes.ContainsAny(raw, ".eE"):
		v.kind = valueNumber
	}
	return v
}

// lookupFields is Lookup for a line the index could not hold: it finds the
// values of keys among line's top-level keys in one pass. vals[i] is where
// keys[i]'s first occurrence sits, the zero Value when it has none. vals
// must be at least as long as keys.
//
// It is meant for lines ClassifyFields accepted: it skips what it does not
// need without validating it again, decodes nothing, allocates nothing for
// a line whose keys are plain JSON strings, and stops as soon as every key
// is found. For any other input it is safe but its answer unspecified; ok
// is false when line does not even start like a JSON object.
func lookupFields(line []byte, keys []string, vals []Value) (ok bool) {
	vals = vals[:len(keys)]
	clear(vals)
	b := line
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' || len(b) > math.MaxInt32 { // longer lines are never read whole
		return false
	}
	left := len(keys)
	for i++; left > 0; {
		i = skipWS(b, i)
		if i >= len(b) || b[i] != '"' {
			return true // '}' or the end: the remaining keys are missing
		}
		ks := i + 1
		ke, kesc := skipString(b, i)
		if i = skipWS(b, ke+1); i >= len(b) || b[i] != ':' {
			return true
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return true
		}
		k := keyIndex(b[ks:ke], kesc, keys, vals)
		vs, ve, kind := i, i, spanRaw
		switch c := b[i]; {
		case c == '"':
			e, esc := skipString(b, i)
			vs, ve, kind = i+1, e, spanString(esc)
			i = e + 1
		case c == '{' || c == '[':
			i = skipComposite(b, i)
			ve = i
		default: // numbers, true, false, null
			for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ' ' && b[i] != '\t' && b[i] != '\r' && b[i] != '\n' {
				i++
			}
			ve = i
		}
		if k >= 0 && ve <= len(b) && vs < len(b) {
			vals[k] = valueOf(b, vs, ve, kind)
			left--
		}
		if i = skipWS(b, i); i < len(b) && b[i] == ',' {
			i++
		}
	}
	return true
}

// skipString returns the index of the closing quote of the string that
// starts at b[i], and whether the string holds escapes; len(b) when it is
// not closed.
func skipString(b []byte, i int) (end int, escaped bool) {
	for i++; ; {
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i : i+8])
			q, bs := w^(lsb*'"'), w^(lsb*'\\')
			if m := ((q-lsb)&^q | (bs-lsb)&^bs) & msb; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) || b[i] == '"' {
			return min(i, len(b)), escaped
		}
		escaped = true
		i += 2 // the backslash and the character it escapes
	}
}

// skipComposite returns the index after the object or array that starts at
// b[i].
func skipComposite(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i, _ = skipString(b, i)
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return i
}

// keyIndex returns the index of the key not found yet that key (a key's
// raw contents) names, or -1.
func keyIndex(key []byte, escaped bool, keys []string, vals []Value) int {
	if escaped {
		var tmp [64]byte
		key = appendUnescaped(tmp[:0], key)
	}
	return missingKey(key, keys, vals)
}

// Raw returns v's bytes in line as written: a string's contents without
// its quotes (escapes not decoded), any other value whole; nil for a
// missing field.
func (v Value) Raw(line []byte) []byte {
	if v.kind == valueMissing {
		return nil
	}
	return line[v.start:v.end]
}

// Text returns v's value as routing compares it: a string's contents,
// numbers in their shortest decimal form, true or false, objects and arrays
// as compact JSON; "" for a missing field or null. The result aliases line
// when the value's bytes are its text, and is appended to buf otherwise.
func (v Value) Text(line, buf []byte) []byte {
	raw := line[v.start:v.end]
	switch v.kind {
	case valuePlain:
		return raw
	case valueString:
		return appendUnescaped(buf, raw)
	case valueNumber:
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 64)
		if err != nil { // out of range: as written
			return append(buf, raw...)
		}
		return strconv.AppendFloat(buf, f, 'f', -1, 64)
	case valueComposite:
		return appendCompact(buf, raw)
	}
	return buf[:0:0]
}

// appendUnescaped appends the decoded contents of a valid JSON string
// (without its quotes), as encoding/json decodes them: invalid UTF-8 and
// lone surrogates become U+FFFD.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(s[i+1:])
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
						r2 = hex4(s[i+3:])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default: // '"', '\\', '/'
				dst = append(dst, s[i])
			}
			i++
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
		}
	}
	return dst
}

// hex4 decodes the four hex digits at the start of b (validated by scanString).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendCompact appends a valid JSON value without its insignificant
// white space, as json.Compact writes it.
func appendCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		switch c := v[i]; c {
		case ' ', '\t', '\r', '\n':
			i++
		case '"':
			_, _, _, next := scanString(v, i)
			dst = append(dst, v[i:next]...)
			i = next
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}
