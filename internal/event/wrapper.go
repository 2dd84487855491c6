package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Format is how the audit lines are wrapped in the log file (audit_log.format).
type Format uint8

const (
	FormatAuto   Format = iota // detect per line
	FormatJSON                 // the bare JSON object
	FormatDocker               // Docker's json-file driver: {"log":"<line>\n","stream":…,"time":…}
	FormatCRI                  // Kubernetes CRI: "<time> stdout F <line>"
)

// ParseFormat maps the config value to a Format.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "", "auto":
		return FormatAuto, nil
	case "json":
		return FormatJSON, nil
	case "docker":
		return FormatDocker, nil
	case "cri":
		return FormatCRI, nil
	}
	return 0, fmt.Errorf("unknown audit_log.format %q (want auto, json, docker or cri)", s)
}

// Unwrapper takes the audit line out of a container runtime's log line and
// joins partial lines (CRI "P", Docker lines without "\n") into one.
type Unwrapper struct {
	format   Format
	max      int
	partial  []byte
	buf      []byte // a docker log line, unescaped
	pending  bool   // inside a partial sequence
	overflow bool   // the joined line passed max
	docker   struct {
		Log string `json:"log"`
	}
}

// NewUnwrapper returns an Unwrapper for format; joined lines longer than
// maxLine bytes are reported oversized.
func NewUnwrapper(format Format, maxLine int) *Unwrapper {
	return &Unwrapper{format: format, max: maxLine}
}

// Pending reports whether a partial line waits for its end: the log position
// must not be checkpointed then.
func (u *Unwrapper) Pending() bool { return u.pending }

// Reset drops a partial line: its parts are read again from the log.
func (u *Unwrapper) Reset() { u.partial, u.pending, u.overflow = u.partial[:0], false, false }

var dockerPrefix = []byte(`{"log":`)

// Unwrap returns the audit line carried by raw. done is false while a
// partial line waits for its end; oversized means the joined line was too long
// (it is dropped). line may alias raw or the Unwrapper's buffer.
func (u *Unwrapper) Unwrap(raw []byte) (line []byte, done, oversized bool) {
	f := u.format
	if f == FormatAuto {
		switch {
		case bytes.HasPrefix(raw, dockerPrefix):
			f = FormatDocker
		case isCRI(raw):
			f = FormatCRI
		default:
			f = FormatJSON
		}
	}
	switch f {
	case FormatDocker:
		if content, ok := u.dockerLog(raw); ok {
			if n := len(content); n > 0 && content[n-1] == '\n' {
				return u.joinBytes(content[:n-1], true)
			}
			return u.joinBytes(content, false)
		}
		u.docker.Log = ""
		if err := json.Unmarshal(raw, &u.docker); err != nil {
			return raw, true, false // not a wrapper after all: classified as malformed downstream
		}
		s := u.docker.Log
		if n := len(s); n > 0 && s[n-1] == '\n' {
			return u.join(s[:n-1], true)
		}
		return u.join(s, false)
	case FormatCRI:
		content, complete, ok := splitCRI(raw)
		if !ok {
			return raw, true, false
		}
		return u.joinBytes(content, complete)
	}
	return raw, true, false
}

// dockerLog is the json.Unmarshal below for the lines Docker writes: a
// valid JSON object with one "log" key whose value is a string without
// \u escapes, valid UTF-8, and no other key that encoding/json would take
// for "log" (it matches names case-insensitively). It returns the log
// string's content, in the Unwrapper's buffer; ok is false for anything
// else, and json.Unmarshal decides.
func (u *Unwrapper) dockerLog(raw []byte) (content []byte, ok bool) {
	b := raw
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipWS(b, i+1)
	found := false
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			i = skipWS(b, i)
			ks, ke, kesc, j := scanString(b, i)
			if j < 0 || kesc {
				return nil, false
			}
			key := b[ks:ke]
			isLog := string(key) == "log"
			if !isLog && len(key) == 3 && bytes.EqualFold(key, []byte("log")) {
				return nil, false
			}
			if i = skipWS(b, j); i >= len(b) || b[i] != ':' {
				return nil, false
			}
			i = skipWS(b, i+1)
			if isLog {
				if found {
					return nil, false // a second "log": the last one would win
				}
				if content, j = u.unescape(b, i); j < 0 {
					return nil, false // not a plain string (null included)
				}
				found, i = true, j
			} else {
				s := scanner{b: b, i: i}
				if !s.value(0) {
					return nil, false
				}
				i = s.i
			}
			if i = skipWS(b, i); i >= len(b) {
				return nil, false
			}
			if b[i] == ',' {
				i++
				continue
			}
			if b[i] != '}' {
				return nil, false
			}
			i++
			break
		}
	}
	if skipWS(b, i) != len(b) {
		return nil, false
	}
	if !found {
		return nil, true // {"stream":…} alone: an empty log
	}
	if !utf8.Valid(content) {
		return nil, false // encoding/json replaces invalid bytes
	}
	return content, true
}

// unescape decodes the JSON string at b[i] into the Unwrapper's buffer and
// returns it and the index after its closing quote; next is -1 for an
// invalid string or one with a \u escape (left to encoding/json).
func (u *Unwrapper) unescape(b []byte, i int) (content []byte, next int) {
	if i >= len(b) || b[i] != '"' {
		return nil, -1
	}
	i++
	// Unescaping only shortens: the string fits in what is left of b.
	if cap(u.buf) < len(b)-i {
		u.buf = make([]byte, 0, max(len(b)-i, 2*cap(u.buf)))
	}
	out := u.buf[:len(b)-i]
	n := 0
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return out[:n], i + 1
		case c == '\\':
			if i++; i >= len(b) {
				return nil, -1
			}
			switch c = b[i]; c {
			case '"', '\\', '/':
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			default: // \u (surrogates and all) is encoding/json's business
				return nil, -1
			}
		case c < 0x20:
			return nil, -1
		}
		out[n] = c
		n++
	}
	return nil, -1
}

func (u *Unwrapper) join(s string, complete bool) ([]byte, bool, bool) {
	if !u.pending && complete {
		return []byte(s), true, false
	}
	return u.joinBytes([]byte(s), complete)
}

func (u *Unwrapper) joinBytes(b []byte, complete bool) ([]byte, bool, bool) {
	if !u.pending && complete {
		return b, true, false
	}
	if !u.pending {
		u.partial, u.overflow, u.pending = u.partial[:0], false, true
	}
	if !u.overflow {
		if len(u.partial)+len(b) > u.max {
			u.overflow, u.partial = true, u.partial[:0]
		} else {
			u.partial = append(u.partial, b...)
		}
	}
	if !complete {
		return nil, false, false
	}
	u.pending = false
	if u.overflow {
		u.overflow = false
		return nil, true, true
	}
	return u.partial, true, false
}

// isCRI recognises "2026-03-20T01:12:44.123456789Z stdout F ".
func isCRI(b []byte) bool {
	if len(b) < 24 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[0] < '0' || b[0] > '9' {
		return false
	}
	_, _, ok := splitCRI(b)
	return ok
}

func splitCRI(b []byte) (content []byte, complete, ok bool) {
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return nil, false, false
	}
	rest := b[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return nil, false, false
	}
	stream := rest[:sp]
	if string(stream) != "stdout" && string(stream) != "stderr" {
		return nil, false, false
	}
	rest = rest[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	var tag []byte
	if sp < 0 {
		tag, rest = rest, nil
	} else {
		tag, rest = rest[:sp], rest[sp+1:]
	}
	switch {
	case len(tag) > 0 && tag[0] == 'F':
		return rest, true, true
	case len(tag) > 0 && tag[0] == 'P':
		return rest, false, true
	}
	return nil, false, false
}
