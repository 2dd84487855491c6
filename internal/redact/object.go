package redact

import (
	"bytes"
	"encoding/json"
	"path"
	"strings"
)

// maxObject bounds the JSON object text Field takes apart for the field
// globs inside it. The gateway's details are at most 8,000 characters; a
// longer object whose keys a glob could hide is hidden whole.
const maxObject = 64 << 10

// mayHideUnder reports whether a field glob could match a path inside the
// object at p: its first segment matches p, or it starts with a wildcard.
func (r *Redactor) mayHideUnder(p string) bool {
	for _, g := range r.fields {
		if strings.ContainsAny(g[:1], "*?[") {
			return true
		}
		if head, _, ok := strings.Cut(g, "."); ok {
			if m, _ := path.Match(head, p); m {
				return true
			}
		}
	}
	return false
}

// object is the JSON object text value of the field at p with every value
// whose path a glob hides replaced by "[redacted]", in compact form with
// the keys in their order. Text that is not one JSON object is returned as
// it is.
func (r *Redactor) object(p, value string, c *Counts) string {
	if len(value) > maxObject {
		c.Add(FieldLabel, 1)
		return Hidden
	}
	var out bytes.Buffer
	n := 0
	dec := json.NewDecoder(strings.NewReader(value))
	dec.UseNumber()
	if !r.rewrite(dec, p, &out, &n) || dec.More() {
		return value
	}
	if _, err := dec.Token(); err == nil { // trailing data: not one object
		return value
	}
	if n == 0 {
		return value
	}
	c.Add(FieldLabel, n)
	return out.String()
}

// rewrite copies the object dec is at (the field at p) to out, replacing
// the values whose path a glob hides; n counts them. It reports false when
// the text is not a JSON object.
func (r *Redactor) rewrite(dec *json.Decoder, p string, out *bytes.Buffer, n *int) bool {
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return false
	}
	out.WriteByte('{')
	first := true
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return false
		}
		if !first {
			out.WriteByte(',')
		}
		first = false
		writeString(out, key)
		out.WriteByte(':')
		sub := p + "." + key
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return false
		}
		raw = bytes.TrimSpace(raw)
		switch {
		case r.Hides(sub):
			writeString(out, Hidden)
			*n++
		case len(raw) > 0 && raw[0] == '{':
			inner := json.NewDecoder(bytes.NewReader(raw))
			inner.UseNumber()
			if !r.rewrite(inner, sub, out, n) {
				return false
			}
		default:
			if err := json.Compact(out, raw); err != nil {
				return false
			}
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return false
	}
	out.WriteByte('}')
	return true
}

// writeString writes s as a JSON string, leaving <, > and & as they are
// (the message escapes them for Slack).
func writeString(out *bytes.Buffer, s string) {
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	out.Truncate(out.Len() - 1) // Encode's newline
}
