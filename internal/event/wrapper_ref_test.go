package event

// The reference implementation of the Unwrapper, as first written (every
// docker line through json.Unmarshal), kept to test the fast one.

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// refUnwrapper takes the audit line out of a container runtime's log line and
// joins partial lines (CRI "P", Docker lines without "\n") into one.
type refUnwrapper struct {
	format   Format
	max      int
	partial  []byte
	pending  bool // inside a partial sequence
	overflow bool // the joined line passed max
	docker   struct {
		Log string `json:"log"`
	}
}

// newRefUnwrapper returns an refUnwrapper for format; joined lines longer than
// maxLine bytes are reported oversized.
func newRefUnwrapper(format Format, maxLine int) *refUnwrapper {
	return &refUnwrapper{format: format, max: maxLine}
}

// Pending reports whether a partial line waits for its end: the log position
// must not be checkpointed then.
func (u *refUnwrapper) Pending() bool { return u.pending }

var refDockerPrefix = []byte(`{"log":`)

// Unwrap returns the audit line carried by raw. done is false while a
// partial line waits for its end; oversized means the joined line was too long
// (it is dropped). line may alias raw or the refUnwrapper's buffer.
func (u *refUnwrapper) Unwrap(raw []byte) (line []byte, done, oversized bool) {
	f := u.format
	if f == FormatAuto {
		switch {
		case bytes.HasPrefix(raw, refDockerPrefix):
			f = FormatDocker
		case refIsCRI(raw):
			f = FormatCRI
		default:
			f = FormatJSON
		}
	}
	switch f {
	case FormatDocker:
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
		content, complete, ok := refSplitCRI(raw)
		if !ok {
			return raw, true, false
		}
		return u.joinBytes(content, complete)
	}
	return raw, true, false
}

func (u *refUnwrapper) join(s string, complete bool) ([]byte, bool, bool) {
	if !u.pending && complete {
		return []byte(s), true, false
	}
	return u.joinBytes([]byte(s), complete)
}

func (u *refUnwrapper) joinBytes(b []byte, complete bool) ([]byte, bool, bool) {
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
func refIsCRI(b []byte) bool {
	if len(b) < 24 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[0] < '0' || b[0] > '9' {
		return false
	}
	_, _, ok := refSplitCRI(b)
	return ok
}

func refSplitCRI(b []byte) (content []byte, complete, ok bool) {
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

func FuzzUnwrapAgreesWithReference(f *testing.F) {
	for _, s := range []string{
		`{"log":"{\"action\":\"b\"}\n","stream":"stdout","time":"2026-03-20T01:12:44.1Z"}`,
		`{"log":"part one ","stream":"stdout"}` + "\n" + `{"log":"and two\n","stream":"stdout"}`,
		`{"log":"x\u00e9\ud83d\ude00\n"}`, `{"log":"a\tb\/c\\\"\b\f\r\n"}`, `{"LOG":"x\n"}`, `{"log":"a\n","Log":"b\n"}`,
		`{"log":"a\n","log":"b\n"}`, `{"log":null}`, `{"log":5}`, `{}`, `{"log":"\n"}`, "{\"log\":\"\xff\\n\"}",
		`{"log":"x\n"} `, `{"log":"x\n"}x`, `{"log":"x\n","a":[1,{"b":null}]}`, `null`, `[1]`,
		`2026-03-20T01:12:44.123456789Z stdout F {"action":"c"}`, `2026-03-20T01:12:44Z stdout P {"action":`,
		`{"action":"plain"}`,
	} {
		for _, format := range []uint8{uint8(FormatAuto), uint8(FormatDocker)} {
			f.Add(format, s)
		}
	}
	f.Fuzz(func(t *testing.T, format uint8, lines string) {
		fm := Format(format % 4)
		u, r := NewUnwrapper(fm, 64), newRefUnwrapper(fm, 64)
		for _, raw := range strings.Split(lines, "\n") {
			l1, d1, o1 := u.Unwrap([]byte(raw))
			l2, d2, o2 := r.Unwrap([]byte(raw))
			if !bytes.Equal(l1, l2) || d1 != d2 || o1 != o2 || u.Pending() != r.Pending() {
				t.Fatalf("Unwrap(%q) = %q %v %v pending %v, reference %q %v %v pending %v",
					raw, l1, d1, o1, u.Pending(), l2, d2, o2, r.Pending())
			}
		}
	})
}
