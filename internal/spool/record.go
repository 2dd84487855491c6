package spool

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
)

// Record is one routed event waiting for one channel.
type Record struct {
	Pos    logpos.Position `json:"pos"`
	Target string          `json:"target"` // Slack channel as configured when routed
	Alert  bool            `json:"alert,omitempty"`
	Thread string          `json:"thread,omitempty"` // how it is threaded (threads.Spec as text); "" when not
	Event  json.RawMessage `json:"event"`
	Marker bool            `json:"marker,omitempty"` // carries the last position across segments; not an event

	// Mention is who the event pings, as the rules said when it was routed.
	Mention []string `json:"mention,omitempty"`
	// Template names the rule whose template shows the event ("" for the
	// default layout); the template itself is the one in force when it is
	// posted.
	Template string `json:"template,omitempty"`

	corrupt bool         // a line that could not be decoded: skipped, never delivered
	parsed  *event.Event // Event parsed, when it was read for delivery
}

// Parsed is the record's event as event.Parse returns it, when the record
// was read by Peek (the reader checks the event by parsing it); ok is false
// otherwise, and for an event Parse refuses.
func (r Record) Parsed() (ev event.Event, ok bool) {
	if r.parsed == nil {
		return ev, false
	}
	return *r.parsed, true
}

// decodeFast decodes a record line (without its newline) exactly as encode
// lays it out, as json.Unmarshal would, without reflection; ok is false for
// any other layout or doubt (markers, escaped targets, an event that is not a
// valid JSON object), and json.Unmarshal decides then. The event aliases line;
// the target is prevTarget when equal (records share a few targets). With
// parse, the event is checked by parsing it (event.Parse, kept for Parsed:
// the sender needs it anyway) instead of by event.Classify, so that a
// record read for delivery is scanned once.
func decodeFast(line []byte, prevTarget string, parse bool) (r Record, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"pos":{"gen":`))
	if !ok {
		return r, false
	}
	var gen, off uint64
	if gen, rest, ok = cutUint(rest); !ok {
		return r, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"offset":`)); !ok {
		return r, false
	}
	if off, rest, ok = cutUint(rest); !ok || off > 1<<63-1 {
		return r, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`},"target":"`)); !ok {
		return r, false
	}
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return r, false
	}
	target := rest[:q]
	for _, c := range target {
		if c < 0x20 || c == '\\' {
			return r, false
		}
	}
	if !utf8.Valid(target) {
		return r, false
	}
	rest = rest[q+1:]
	rest, r.Alert = bytes.CutPrefix(rest, []byte(`,"alert":true`))
	if r.Mention, rest, ok = cutMention(rest); !ok {
		return r, false
	}
	if rest, ok = cutPlainString(rest, []byte(`,"thread":"`), &r.Thread); !ok {
		return r, false
	}
	if rest, ok = cutPlainString(rest, []byte(`,"template":"`), &r.Template); !ok {
		return r, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"event":`)); !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return r, false
	}
	ev := rest[: len(rest)-1 : len(rest)-1]
	if ev[0] != '{' || ev[len(ev)-1] != '}' {
		return r, false
	}
	if parse {
		e, kind := event.ParseChecked(ev)
		switch kind {
		case event.KindMalformed:
			return r, false
		case event.KindEvent:
			r.parsed = &e
		}
	} else if kind, _ := event.Classify(ev); kind == event.KindMalformed {
		return r, false
	}
	r.Pos = logpos.Position{Gen: gen, Offset: int64(off)}
	if r.Target = prevTarget; string(target) != prevTarget {
		r.Target = string(target)
	}
	r.Event = ev
	return r, true
}

// appendMention writes the mention list as encode lays it out.
func appendMention(b []byte, mention []string) []byte {
	if len(mention) == 0 {
		return b
	}
	m, _ := json.Marshal(mention)
	b = append(b, `,"mention":`...)
	return append(b, m...)
}

// cutMention takes the mention list appendMention wrote off the front of
// b, if there is one; ok is false when it is not plain (json.Unmarshal
// decides then).
func cutMention(b []byte) (mention []string, rest []byte, ok bool) {
	rest, found := bytes.CutPrefix(b, []byte(`,"mention":[`))
	if !found {
		return nil, b, true
	}
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return nil, b, false
	}
	for item := range bytes.SplitSeq(rest[:end], []byte(",")) {
		s, open := bytes.CutPrefix(item, []byte(`"`))
		s, closed := bytes.CutSuffix(s, []byte(`"`))
		if !open || !closed || len(s) == 0 || !plainJSONString(string(s)) {
			return nil, b, false
		}
		mention = append(mention, string(s))
	}
	return mention, rest[end+1:], true
}

// cutUint takes a decimal number as encode writes it (no sign, no leading
// zero) off the front of b.
func cutUint(b []byte) (uint64, []byte, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 1 && b[0] == '0' {
		return 0, b, false
	}
	n, err := strconv.ParseUint(string(b[:i]), 10, 64)
	if err != nil {
		return 0, b, false
	}
	return n, b[i:], true
}

// recordStart opens every record in a segment: a carriage return. JSON
// allows it as white space before a value, so whatever reads a record as
// JSON (an older auditfwd, jq) reads it as before; and a record never holds
// one anywhere else (strings escape it, and an event holding one as white
// space is compacted when written). A write cut short (disk full, I/O
// error) leaves a record's first bytes and no newline; whatever is written
// after them starts with recordStart, so a reader finds the intact record
// behind the remains and never takes the two for one corrupt record. Lines
// without it were written before it existed and are read as they were.
const recordStart = '\r'

// parseLine decodes a segment line (without its newline): the record, and
// the remains of a write cut short in front of it (nil when there are
// none). The line is taken whole when it decodes whole (an older line may
// hold a carriage return as white space); only then is it split at its last
// record start. err is the whole line's when neither decodes.
func parseLine(line []byte, prevTarget string, parse bool) (remains []byte, r Record, err error) {
	if r, err = decodeLine(bytes.TrimPrefix(line, []byte{recordStart}), prevTarget, parse); err == nil {
		return nil, r, nil
	}
	i := bytes.LastIndexByte(line, recordStart)
	if i <= 0 {
		return nil, r, err
	}
	tail, terr := decodeLine(line[i+1:], prevTarget, parse)
	if terr != nil {
		return nil, r, err
	}
	return line[:i], tail, nil
}

// decodeLine decodes one record's JSON: by decodeFast when it can,
// otherwise by json.Unmarshal.
func decodeLine(b []byte, prevTarget string, parse bool) (Record, error) {
	if r, ok := decodeFast(b, prevTarget, parse); ok {
		return r, nil
	}
	var r Record
	err := json.Unmarshal(b, &r)
	return r, err
}

func encode(r Record) []byte { return appendRecord(nil, r) }

// appendRecord appends r's line to b: recordStart, the JSON object, a
// newline.
func appendRecord(b []byte, r Record) []byte {
	b = append(b, recordStart)
	b = append(b, `{"pos":{"gen":`...)
	b = strconv.AppendUint(b, r.Pos.Gen, 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, r.Pos.Offset, 10)
	b = append(b, '}')
	if r.Marker {
		b = append(b, `,"marker":true`...)
	}
	b = append(b, `,"target":`...)
	b = appendString(b, r.Target)
	if r.Alert {
		b = append(b, `,"alert":true`...)
	}
	b = appendMention(b, r.Mention)
	if r.Thread != "" {
		b = append(b, `,"thread":`...)
		b = appendString(b, r.Thread)
	}
	if r.Template != "" {
		b = append(b, `,"template":`...)
		b = appendString(b, r.Template)
	}
	b = append(b, `,"event":`...)
	ev := bytes.TrimSpace(r.Event)
	if bytes.IndexByte(ev, recordStart) >= 0 {
		// A carriage return as white space between the event's values:
		// gone, so that only a record's start holds one.
		var c bytes.Buffer
		if json.Compact(&c, ev) == nil {
			ev = c.Bytes()
		}
	}
	b = append(b, ev...)
	return append(b, "}\n"...)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	if plainJSONString(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	t, _ := json.Marshal(s)
	return append(b, t...)
}

// cutPlainString takes an optional field off the front of rest into dst:
// prefix is its key up to the value's opening quote (`,"thread":"`), and
// the value a plain string, as encode writes thread specs and rule names;
// ok is false when the field is there in another form.
func cutPlainString(rest, prefix []byte, dst *string) ([]byte, bool) {
	rest, found := bytes.CutPrefix(rest, prefix)
	if !found {
		return rest, true
	}
	q := bytes.IndexByte(rest, '"')
	if q < 0 || !plainJSONString(string(rest[:q])) {
		return rest, false
	}
	*dst = string(rest[:q])
	return rest[q+1:], true
}

// plainJSONString reports whether json.Marshal would write s as it is,
// between quotes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
