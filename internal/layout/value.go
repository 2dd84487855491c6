package layout

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/auditfwd/auditfwd/internal/event"
)

// Value is the text of the field at path in ev, as the message shows
// values: a top-level key ("user_email"; "action" and "ts" or "timestamp"
// too), or a key inside a field holding a JSON object, written with dots
// ("details.reason", "details.request.id"; the gateway's details field is
// JSON in a string). Strings are shown unquoted, numbers and booleans as
// written, objects and arrays as compact JSON. ok is false when there is no
// such field.
func Value(ev *event.Event, path string) (string, bool) {
	head, rest, nested := strings.Cut(path, ".")
	var v string
	switch head {
	case "action":
		v = ev.Action
	case "ts", "timestamp":
		v = ev.TimeRaw
	default:
		v = ev.Get(head)
	}
	if !nested {
		return v, v != ""
	}
	raw := json.RawMessage(v)
	for name := range strings.SplitSeq(rest, ".") {
		var obj map[string]json.RawMessage
		if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &obj) != nil {
			return "", false
		}
		var ok bool
		if raw, ok = obj[name]; !ok {
			return "", false
		}
	}
	return show(raw), true
}

// show is a JSON value as a message shows it; null is "".
func show(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return ""
	case raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case raw[0] == '{' || raw[0] == '[':
		var b bytes.Buffer
		if json.Compact(&b, raw) == nil {
			return b.String()
		}
	}
	return string(raw)
}
