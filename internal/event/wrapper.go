package event

import (
	"bytes"
	"encoding/json"
	"fmt"
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
	pending  bool // inside a partial sequence
	overflow bool // the joined line passed max
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
