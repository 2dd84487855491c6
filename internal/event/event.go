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
		switch key {
		case "action":
			if isString {
				ev.Action = value
			}
			continue
		case "ts", "timestamp":
			if isString && ev.TimeRaw == "" {
				ev.TimeRaw = value
				if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
					ev.Time = t.UTC()
				}
				continue
			}
		}
		if value == "" {
			continue
		}
		ev.Fields = append(ev.Fields, Field{Key: key, Value: value})
	}
	if _, err := dec.Token(); err != nil {
		return ev, fmt.Errorf("parse event: %w", err)
	}
	if ev.Action == "" {
		return ev, ErrNotAudit
	}
	return ev, nil
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
