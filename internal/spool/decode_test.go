package spool

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"

	"github.com/auditfwd/auditfwd/internal/logpos"
)

// decodeRecord must agree with json.Unmarshal whenever it takes a line.
func checkDecode(t *testing.T, line []byte) {
	t.Helper()
	got, ok := decodeRecord(line, "")
	if !ok {
		return
	}
	var want Record
	if err := json.Unmarshal(line, &want); err != nil {
		t.Fatalf("decodeRecord took %q, json.Unmarshal: %v", line, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRecord(%q) = %#v, json.Unmarshal %#v", line, got, want)
	}
}

func TestDecodeRecordTakesWhatEncodeWrites(t *testing.T) {
	for _, r := range []Record{
		{Pos: logpos.Position{Gen: 1, Offset: 330}, Target: "#security", Event: json.RawMessage(`{"action":"login.complete","n":1}`)},
		{Pos: logpos.Position{Gen: 18446744073709551615, Offset: 9223372036854775807}, Target: "C0123ABCD", Alert: true, Event: json.RawMessage(` {"action":"x","a":[1,{"b":null}],"s":"\"q\" \u00e9"} `)},
		{Pos: logpos.Position{Gen: 0, Offset: 0}, Target: "#sécurité", Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 2, Offset: 9}, Target: "#security", Mention: []string{"S0123ABCD", "here"}, Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 2, Offset: 9}, Target: "#d", Alert: true, Mention: []string{"U1"}, Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 2, Offset: 9}, Target: "#deploy", Alert: true, Thread: "approval", Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 2, Offset: 9}, Target: "#security", Thread: "by 24h0m0s ip_address", Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 2, Offset: 9}, Target: "#security", Mention: []string{"here"}, Thread: "by 24h0m0s ip_address", Template: "security-failures", Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 2, Offset: 9}, Target: "#security", Template: "a", Event: json.RawMessage(`{"action":"x"}`)},
	} {
		line := encodedJSON(t, r)
		if _, ok := decodeRecord(line, ""); !ok {
			t.Fatalf("decodeRecord did not take %q", line)
		}
		checkDecode(t, line)
	}
	// Markers and escaped targets are left to json.Unmarshal.
	for _, r := range []Record{
		{Pos: logpos.Position{Gen: 1, Offset: 5}, Marker: true, Event: json.RawMessage("null")},
		{Pos: logpos.Position{Gen: 1, Offset: 5}, Target: "a\"b", Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 1, Offset: 5}, Target: "#s", Mention: []string{"a]b"}, Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 1, Offset: 5}, Target: "#s", Mention: []string{`a"b`}, Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 1, Offset: 5}, Target: "#s", Thread: "by 1h0m0s odd\"field", Event: json.RawMessage(`{"action":"x"}`)},
		{Pos: logpos.Position{Gen: 1, Offset: 5}, Target: "#s", Template: "odd\"name", Event: json.RawMessage(`{"action":"x"}`)},
	} {
		if _, ok := decodeRecord(encodedJSON(t, r), ""); ok {
			t.Fatalf("decodeRecord took %+v", r)
		}
	}
}

func FuzzDecodeRecordAgreesWithJSON(f *testing.F) {
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#security","event":{"action":"login.complete","n":0}}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#security","alert":true,"event":{"action":"x"}}`)
	f.Add(`{"pos":{"gen":01,"offset":100},"target":"#s","event":{"action":"x"}}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"marker":true,"target":"","event":null}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#s","event":{"action":"x"} }`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#s","mention":["S1","here"],"event":{"action":"x"}}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#s","alert":true,"mention":["S1",""],"event":{"action":"x"}}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#s","mention":[],"event":{"action":"x"}}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#s","alert":true,"thread":"approval","event":{"action":"x"}}`)
	f.Add(`{"pos":{"gen":1,"offset":100},"target":"#s","thread":"by 1h0m0s ip","event":{"action":"x"}}`)
	f.Fuzz(func(t *testing.T, line string) { checkDecode(t, []byte(line)) })
}

// encodedJSON is the JSON object of r's line: what decodeRecord takes.
func encodedJSON(t *testing.T, r Record) []byte {
	t.Helper()
	line, ok := bytes.CutSuffix(encode(r), []byte("\n"))
	if !ok || line[0] != recordStart || bytes.Count(line, []byte{recordStart}) != 1 || bytes.Contains(line, []byte("\n")) {
		t.Fatalf("encode(%+v) = %q: not recordStart, one JSON object, a newline", r, line)
	}
	// Whatever reads JSON reads the line as it is (an older auditfwd).
	var whole Record
	if err := json.Unmarshal(line, &whole); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", line, err)
	}
	return line[1:]
}

// An event holding carriage returns as white space is compacted: a record
// holds one only at its start; one in a string is escaped anyway.
func TestRecordHoldsNoOtherRecordStart(t *testing.T) {
	r := Record{Pos: logpos.Position{Gen: 1, Offset: 9}, Target: "#s", Event: json.RawMessage("{\"action\":\r\"x\",\r\n \"s\":\"a\\rb\"}")}
	got, ok := decodeRecord(encodedJSON(t, r), "")
	if !ok || string(got.Event) != `{"action":"x","s":"a\rb"}` {
		t.Fatalf("decoded %+v, %v", got, ok)
	}
}

// encodeRef is encode as first written, with the record start added in
// front.
func encodeRef(r Record) []byte {
	var b bytes.Buffer
	b.WriteByte(recordStart)
	b.WriteString(`{"pos":{"gen":`)
	b.WriteString(strconv.FormatUint(r.Pos.Gen, 10))
	b.WriteString(`,"offset":`)
	b.WriteString(strconv.FormatInt(r.Pos.Offset, 10))
	b.WriteString(`}`)
	if r.Marker {
		b.WriteString(`,"marker":true`)
	}
	b.WriteString(`,"target":`)
	t, _ := json.Marshal(r.Target)
	b.Write(t)
	if r.Alert {
		b.WriteString(`,"alert":true`)
	}
	if r.Thread != "" {
		b.WriteString(`,"thread":`)
		t, _ := json.Marshal(r.Thread)
		b.Write(t)
	}
	b.WriteString(`,"event":`)
	ev := bytes.TrimSpace(r.Event)
	if bytes.IndexByte(ev, '\r') >= 0 { // compacted: the record start is the only one
		var c bytes.Buffer
		if json.Compact(&c, ev) == nil {
			ev = c.Bytes()
		}
	}
	b.Write(ev)
	b.WriteString("}\n")
	return b.Bytes()
}

func FuzzEncodeAgreesWithReference(f *testing.F) {
	f.Add(uint64(1), int64(100), "#security", false, false, `{"action":"x"}`)
	f.Add(uint64(7), int64(-1), "<a&b>\u2028\x7f\"\\é", true, true, " null ")
	f.Fuzz(func(t *testing.T, gen uint64, off int64, target string, alert, marker bool, ev string) {
		r := Record{Pos: logpos.Position{Gen: gen, Offset: off}, Target: target, Alert: alert, Marker: marker, Event: json.RawMessage(ev)}
		if got, want := encode(r), encodeRef(r); !bytes.Equal(got, want) {
			t.Fatalf("encode = %q, reference %q", got, want)
		}
	})
}

func TestDecodeRecordWithMentionAndThread(t *testing.T) {
	r := Record{Pos: logpos.Position{Gen: 3, Offset: 7}, Target: "#deploy", Alert: true, Mention: []string{"S1", "here"}, Thread: "approval", Event: json.RawMessage(`{"action":"x"}`)}
	line := encodedJSON(t, r)
	got, ok := decodeRecord(line, "")
	if !ok || got.Thread != "approval" || len(got.Mention) != 2 || !got.Alert {
		t.Fatalf("decodeRecord(%q) = %+v, %v", line, got, ok)
	}
	checkDecode(t, line)
}

// decodeRecord is decodeFast with the event checked by event.Classify.
func decodeRecord(line []byte, prevTarget string) (Record, bool) {
	return decodeFast(line, prevTarget, false)
}
