// Package event turns one audit log line into an Event. It knows the gateway's
// JSON shapes (stdout lines and the database export); it knows nothing about
// files, routing or Slack.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
)

// Field is one key of an audit line other than action and the timestamp.
type Field struct {
	Key   string
	Value string // strings unquoted; numbers and booleans as written; objects and arrays as compact JSON
}

// Event is a parsed audit event. Fields keeps the line's key order so the
// message shows what the gateway wrote, unknown keys included.
type Event struct {
	Action  string
	Time    time.Time // from "ts" or "timestamp"; zero when missing or unparseable
	TimeRaw string    // the timestamp as written
	Fields  []Field   // every other non-empty key, in line order

	sawAction bool // an action key was seen (while parsing)
}

// Get returns the value of key, or "" when the event has no such field.
func (e *Event) Get(key string) string {
	for _, f := range e.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return ""
}

// ErrNotAudit is returned by Parse for a JSON object without a non-empty string action.
var ErrNotAudit = errors.New("not an audit event")

// Parse decodes one JSON object line into an Event.
func Parse(line []byte) (Event, error) {
	if ev, ok := parseFast(line); ok {
		if ev.Action == "" {
			return ev, ErrNotAudit
		}
		return ev, nil
	}
	return parseDecoder(line)
}

// ParseChecked is Parse for a line that must also be one valid JSON object
// as Classify validates it (Parse alone is lenient: it decodes what it can):
// kind is KindMalformed when the line is not, KindNotAudit for an object
// without an action, KindEvent with ev parsed. One scan does both, where
// Classify and then Parse scan the line twice.
func ParseChecked(line []byte) (Event, Kind) {
	if ev, ok := parseFast(line); ok {
		if ev.Action == "" {
			return ev, KindNotAudit
		}
		return ev, KindEvent
	}
	kind, _ := Classify(line)
	if kind != KindEvent {
		return Event{}, kind
	}
	ev, err := parseDecoder(line)
	if err != nil {
		return Event{}, KindNotAudit
	}
	return ev, KindEvent
}

// parseFast is Parse for a line that is one valid JSON object, as the
// scanner of Classify validates it: every line a spool holds. It makes one
// string of the line and takes keys and plain values from it, and decodes
// only escaped or non-UTF-8 strings and nested values with encoding/json, as
// parseDecoder does. ok is false for anything else (invalid JSON, trailing
// data, nesting deeper than Classify allows): parseDecoder then answers, so
// Parse behaves exactly as it always did.
func parseFast(line []byte) (ev Event, ok bool) {
	b := line
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ev, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		if skipWS(b, i+1) != len(b) {
			return ev, false
		}
		return ev, true
	}
	// Validate first, counting keys, so that nothing is allocated for a
	// line the fallback will parse anyway.
	n := 0
	for j := i; ; {
		j = skipWS(b, j)
		_, _, _, k := scanString(b, j)
		if k < 0 {
			return ev, false
		}
		if j = skipWS(b, k); j >= len(b) || b[j] != ':' {
			return ev, false
		}
		s := scanner{b: b, i: skipWS(b, j+1)}
		if !s.value(0) {
			return ev, false
		}
		n++
		if j = skipWS(b, s.i); j >= len(b) {
			return ev, false
		}
		if b[j] == ',' {
			j++
			continue
		}
		if b[j] != '}' || skipWS(b, j+1) != len(b) {
			return ev, false
		}
		break
	}

	str := string(line) // one allocation for every key and plain value
	ev.Fields = make([]Field, 0, n)
	for {
		i = skipWS(b, i)
		ks, ke, kesc, k := scanString(b, i)
		key := str[ks:ke]
		if kesc || !utf8.ValidString(key) {
			var decoded string
			json.Unmarshal(b[ks-1:ke+1], &decoded) // valid: cannot fail
			key = decoded
		}
		s := scanner{b: b, i: skipWS(b, skipWS(b, k)+1)}
		vstart := s.i
		s.value(0) // validated above
		raw := b[vstart:s.i]
		var value string
		isString := false
		switch raw[0] {
		case '"':
			isString = true
			if value = str[vstart+1 : s.i-1]; bytes.IndexByte(raw, '\\') >= 0 || !utf8.ValidString(value) {
				value, isString = renderValue(raw)
			}
		case 'n': // null
		case '{', '[':
			value, isString = renderValue(raw)
		default: // numbers, true, false: as written
			value = str[vstart:s.i]
		}
		ev.take(key, value, isString)
		if i = skipWS(b, s.i); b[i] == '}' {
			break
		}
		i++ // ','
	}
	if len(ev.Fields) == 0 {
		ev.Fields = nil // as parseDecoder leaves it
	}
	return ev, true
}

// parseDecoder is Parse with encoding/json's Decoder: the reference, and the
// answer for every line parseFast does not take.
func parseDecoder(line []byte) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return ev, fmt.Errorf("parse event: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return ev, errors.New("parse event: not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ev, fmt.Errorf("parse event: %w", err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ev, fmt.Errorf("parse event: key %q: %w", key, err)
		}
		value, isString := renderValue(raw)
		ev.take(key, value, isString)
	}
	if _, err := dec.Token(); err != nil {
		return ev, fmt.Errorf("parse event: %w", err)
	}
	if ev.Action == "" {
		return ev, ErrNotAudit
	}
	return ev, nil
}

// take records one key of the line: the action (the first action key decides),
// the timestamp (the first string "ts" or "timestamp"), or a field unless
// its value is empty.
func (ev *Event) take(key, value string, isString bool) {
	switch key {
	case "action":
		// The first action key decides, as in Classify, so an event is
		// shown with the action it was routed by.
		if !ev.sawAction && isString {
			ev.Action = value
		}
		ev.sawAction = true
		return
	case "ts", "timestamp":
		if isString && ev.TimeRaw == "" {
			ev.TimeRaw = value
			if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
				ev.Time = t.UTC()
			}
			return
		}
	}
	if value != "" {
		ev.Fields = append(ev.Fields, Field{Key: key, Value: value})
	}
}

// renderValue turns a JSON value into display text; null becomes "".
func renderValue(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s, true
		}
		return string(raw), false
	}
	if raw[0] == '{' || raw[0] == '[' {
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err == nil {
			return buf.String(), false
		}
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return string(raw), false
	}
	return string(raw), false
}
