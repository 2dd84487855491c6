package event

// Independent oracles for the hand-written scanners: encoding/json decides
// what is valid JSON and what a string says; the oracles only add the
// contract's rules on top (the first "action" decides; Docker and CRI
// wrappers; partial lines joined). Nothing here is a copy of the code it
// checks, so a bug in the scanners cannot hide in its own reflection.

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// classifyOracle is what Classify must answer, from encoding/json: a line
// that is not exactly one JSON object (white space around it allowed) or
// whose values nest deeper than maxDepth is malformed; the first top-level
// "action" key (escapes decoded) decides: a non-empty string makes an
// event, anything else a line that is not an audit event. The action is
// the string's bytes as written when it holds no escape, else its decoded
// value.
func classifyOracle(line []byte) (Kind, []byte) {
	if !json.Valid(line) || bytes.TrimLeft(line, " \t\r\n")[0] != '{' || nesting(line) > maxDepth+1 {
		return KindMalformed, nil
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.Token() // {
	for dec.More() {
		key, _ := dec.Token()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			panic(err) // json.Valid said it was valid
		}
		if key != "action" {
			continue
		}
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil || s == "" {
			return KindNotAudit, nil
		}
		if !bytes.ContainsRune(raw, '\\') {
			return KindEvent, raw[1 : len(raw)-1]
		}
		return KindEvent, []byte(s)
	}
	return KindNotAudit, nil
}

// nesting is the number of objects and arrays around the deepest value of
// a valid JSON text: 1 for the values of a flat object.
func nesting(line []byte) int {
	type frame struct{ object, wantKey bool }
	var stack []frame
	deepest := 0
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // a valid number may overflow a float64 (1E700)
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return deepest
		}
		if err != nil {
			panic(err) // json.Valid said it was valid
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey { // a key, or the object's end
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				afterValue()
			} else {
				stack[n-1].wantKey = false
			}
			continue
		}
		if tok == json.Delim(']') {
			stack = stack[:len(stack)-1]
			afterValue()
			continue
		}
		deepest = max(deepest, len(stack))
		if tok == json.Delim('{') || tok == json.Delim('[') {
			stack = append(stack, frame{object: tok == json.Delim('{'), wantKey: tok == json.Delim('{')})
			continue
		}
		afterValue()
	}
}

func TestNesting(t *testing.T) {
	for _, c := range []struct {
		json string
		want int
	}{
		{`{}`, 0}, {`{"a":1}`, 1}, {`{"a":[]}`, 1}, {`{"a":[1]}`, 2}, {`{"a":{"b":{}},"c":2}`, 2},
		{`{"a":[[{"b":[0]}]],"c":1}`, 5}, {`[]`, 0}, {`"x"`, 0},
	} {
		if got := nesting([]byte(c.json)); got != c.want {
			t.Errorf("nesting(%s) = %d, want %d", c.json, got, c.want)
		}
	}
}

// deep is an object whose "x" holds n nested arrays around a 1.
func deep(n int) string {
	return `{"action":"a","x":` + strings.Repeat("[", n) + "1" + strings.Repeat("]", n) + "}"
}

var classifySeeds = []string{
	`{"action":"login.complete","status":"success"}`,
	` {"ts":"2026-03-20T01:12:44Z", "action" : "logout" } `,
	`{"a":{"action":"x"},"action":"release.promote"}`,
	`{"action":"a\u002eb"}`, `{"\u0061ction":"a.b"}`, `{"act\u0069on":5,"action":"x"}`,
	`{"method":"GET","path":"/","status":200}`,
	`{"action":5,"action":"x"}`, `{"action":"x","action":"y"}`, `{"action":"","action":"y"}`, `{"action":null}`,
	`{"action":"x","n":-1.5e+3,"b":true,"z":null,"l":[1,{"a":[]}]}`,
	`{"action":"x","n":01}`, `{"action":"x","n":1.}`, `{"n":-}`, `{"n":1e}`, `{"n":1E+5}`, `{"n":-0.0e-0}`,
	"{\"action\":\"x\ty\"}", `{"action":"\"quoted\" \\ back"}`, `{"action":"\/"}`,
	`{"k":"0123456789abcdef\"0123456789"}`, `{"k":"\ud800"}`, `{"action":"\ud83d\ude00"}`, `{"action":"\ud800"}`,
	"{\"k\":\"\xff\xfe\x80\"}", "{\"action\":\"\xff\"}", "{\"action\":\"\x7f\"}",
	`{"action":"x"} `, `{}`, `{ }`, `{"a":[ ]}`, `{"a":{ }}`, `{"action":"x"}{}`, `{"action":"x",}`, `{"action":"x"`,
	`[{"action":"x"}]`, `"action"`, ``, ` `, `{"action":tru}`, `{"action":"x","t":true,"f":false}`,
	deep(maxDepth - 1), deep(maxDepth), deep(maxDepth + 1), deep(maxDepth + 2),
}

// Classify agrees with encoding/json on every input.
func FuzzClassifyAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range classifySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) { checkClassify(t, []byte(line)) })
}

func checkClassify(t *testing.T, line []byte) {
	t.Helper()
	k1, a1 := Classify(line)
	k2, a2 := classifyOracle(line)
	if k1 != k2 || string(a1) != string(a2) {
		t.Fatalf("Classify(%q) = %v %q, encoding/json says %v %q", line, k1, a1, k2, a2)
	}
	var f Fields
	if k3, a3 := ClassifyFields(line, &f); k3 != k1 || string(a3) != string(a1) {
		t.Fatalf("ClassifyFields(%q) = %v %q, Classify %v %q", line, k3, a3, k1, a1)
	}
}

// The seeds, the reference workload, and each cut short in several places:
// the oracle's answer is checked too, so that it cannot agree by saying
// nothing.
func TestClassifyAgreesWithEncodingJSON(t *testing.T) {
	kinds := map[Kind]int{}
	for _, s := range classifySeeds {
		checkClassify(t, []byte(s))
		k, _ := classifyOracle([]byte(s))
		kinds[k]++
	}
	for _, line := range benchLines(4000) {
		for _, cut := range []int{len(line), len(line) - 1, len(line) / 2, 7} {
			checkClassify(t, line[:cut])
			k, _ := classifyOracle(line[:cut])
			kinds[k]++
		}
	}
	if kinds[KindEvent] < 100 || kinds[KindNotAudit] < 100 || kinds[KindMalformed] < 100 {
		t.Errorf("the inputs do not cover every kind: %v", kinds)
	}
	for _, c := range []struct {
		line string
		kind Kind
	}{{deep(maxDepth), KindEvent}, {deep(maxDepth + 1), KindMalformed}} {
		if k, _ := Classify([]byte(c.line)); k != c.kind {
			t.Errorf("%d nested arrays: %v, want %v", strings.Count(c.line, "["), k, c.kind)
		}
	}
}

// unwrapOracle is what an Unwrapper must answer, line after line: Docker's
// json-file lines are whatever json.Unmarshal finds under "log" (names
// matched as encoding/json matches them; a log ending in a newline ends
// the line); CRI lines are "<time> <stdout|stderr> <F|P…> <content>"; a
// line that is neither passes through whole. Parts of a partial line are
// joined until the part that ends it; a joined line longer than max is
// dropped as oversized.
type unwrapOracle struct {
	format Format
	max    int
	parts  [][]byte // of a partial line; nil when none waits
}

func (o *unwrapOracle) pending() bool { return o.parts != nil }

func (o *unwrapOracle) unwrap(raw []byte) (line []byte, done, oversized bool) {
	f := o.format
	if f == FormatAuto {
		switch {
		case bytes.HasPrefix(raw, []byte(`{"log":`)):
			f = FormatDocker
		case looksCRI(raw):
			f = FormatCRI
		default:
			f = FormatJSON
		}
	}
	var content []byte
	var complete bool
	switch f {
	case FormatDocker:
		var d struct {
			Log string `json:"log"`
		}
		if json.Unmarshal(raw, &d) != nil {
			return raw, true, false
		}
		content, complete = []byte(strings.TrimSuffix(d.Log, "\n")), strings.HasSuffix(d.Log, "\n")
	case FormatCRI:
		var ok bool
		if content, complete, ok = criOracle(raw); !ok {
			return raw, true, false
		}
	default:
		return raw, true, false
	}
	if !o.pending() && complete {
		return content, true, false
	}
	o.parts = append(o.parts, content)
	if !complete {
		return nil, false, false
	}
	joined := bytes.Join(o.parts, nil)
	o.parts = nil
	if len(joined) > o.max {
		return nil, true, true
	}
	return joined, true, false
}

// looksCRI is format auto's test for a CRI line: it starts like an
// RFC 3339 time (2026-03-20T…) and splits as one.
func looksCRI(raw []byte) bool {
	_, _, ok := criOracle(raw)
	return ok && len(raw) >= 24 && raw[0] >= '0' && raw[0] <= '9' && raw[4] == '-' && raw[7] == '-' && raw[10] == 'T'
}

func criOracle(raw []byte) (content []byte, complete, ok bool) {
	f := strings.SplitN(string(raw), " ", 4)
	if len(f) < 3 || f[1] != "stdout" && f[1] != "stderr" || f[2] == "" || f[2][0] != 'F' && f[2][0] != 'P' {
		return nil, false, false
	}
	if len(f) == 4 {
		content = []byte(f[3])
	}
	return content, f[2][0] == 'F', true
}

var unwrapSeeds = []string{
	`{"log":"{\"action\":\"b\"}\n","stream":"stdout","time":"2026-03-20T01:12:44.1Z"}`,
	`{"log":"part one ","stream":"stdout"}` + "\n" + `{"log":"and two\n","stream":"stdout"}`,
	`{"log":"x\u00e9\ud83d\ude00\n"}`, `{"log":"a\tb\/c\\\"\b\f\r\n"}`, `{"LOG":"x\n"}`, `{"log":"a\n","Log":"b\n"}`,
	`{"log":"a\n","log":"b\n"}`, `{"log":null}`, `{"log":5}`, `{}`, `{"log":"\n"}`, "{\"log\":\"\xff\\n\"}",
	`{"log":"x\n"} `, `{"log":"x\n"}x`, `{"log":"x\n","a":[1,{"b":null}]}`, `null`, `[1]`,
	`2026-03-20T01:12:44.123456789Z stdout F {"action":"c"}`, `2026-03-20T01:12:44Z stdout P {"action":`,
	"2026-03-20T01:12:44Z stdout P {\"action\":\n2026-03-20T01:12:44Z stderr F \"x\"}",
	"2026-03-20T01:12:44Z stdout P " + strings.Repeat("x", 40) + "\n2026-03-20T01:12:44Z stdout P " + strings.Repeat("y", 40) + "\n2026-03-20T01:12:44Z stdout F z",
	`2026-03-20T01:12:44Z stdout F`, `2026-03-20T01:12:44Z stdin F x`, `2026-03-20T01:12:44Z stdout X x`, `2026-03-20 stdout F x`,
	`{"action":"plain"}`,
}

// An Unwrapper agrees with the oracle on any sequence of lines, in every format.
func FuzzUnwrapAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range unwrapSeeds {
		for _, format := range []uint8{uint8(FormatAuto), uint8(FormatDocker), uint8(FormatCRI)} {
			f.Add(format, s)
		}
	}
	f.Fuzz(func(t *testing.T, format uint8, lines string) { checkUnwrap(t, Format(format%4), lines) })
}

func checkUnwrap(t *testing.T, format Format, lines string) {
	t.Helper()
	u, o := NewUnwrapper(format, 64), &unwrapOracle{format: format, max: 64}
	for _, raw := range strings.Split(lines, "\n") {
		l1, d1, o1 := u.Unwrap([]byte(raw))
		l2, d2, o2 := o.unwrap([]byte(raw))
		if !bytes.Equal(l1, l2) || d1 != d2 || o1 != o2 || u.Pending() != o.pending() {
			t.Fatalf("format %d, Unwrap(%q) = %q done %v oversized %v pending %v; the oracle says %q %v %v pending %v",
				format, raw, l1, d1, o1, u.Pending(), l2, d2, o2, o.pending())
		}
	}
}

func TestUnwrapAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range unwrapSeeds {
		for f := range Format(4) {
			checkUnwrap(t, f, s)
		}
	}
	// Every seed joined with the next: partial lines meet whatever follows.
	for i := range unwrapSeeds {
		for f := range Format(4) {
			checkUnwrap(t, f, unwrapSeeds[i]+"\n"+unwrapSeeds[(i+1)%len(unwrapSeeds)])
		}
	}
}
