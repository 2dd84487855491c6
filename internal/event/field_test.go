package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/bench/workload"
)

func lookupText(t *testing.T, line string, keys ...string) []string {
	t.Helper()
	vals := make([]Value, len(keys))
	if !lookupFields([]byte(line), keys, vals) {
		t.Fatalf("lookupFields(%s) = false", line)
	}
	out := make([]string, len(keys))
	for i, v := range vals {
		out[i] = string(v.Text([]byte(line), nil))
	}
	return out
}

func TestLookupFields(t *testing.T) {
	tests := []struct {
		name, line, key, want string
		present               bool
	}{
		{"plain string", `{"action":"login.complete","status":"failed"}`, "status", "failed", true},
		{"missing", `{"action":"login.complete"}`, "status", "", false},
		{"null", `{"action":"a","status":null}`, "status", "", false},
		{"empty string", `{"action":"a","status":""}`, "status", "", true},
		{"integer as written", `{"action":"a","http_status":403}`, "http_status", "403", true},
		{"big integer exact", `{"action":"a","id":123456789012345678901}`, "id", "123456789012345678901", true},
		{"negative", `{"a":-7}`, "a", "-7", true},
		{"exponent", `{"a":1e6}`, "a", "1000000", true},
		{"fraction", `{"a":0.50}`, "a", "0.5", true},
		{"fraction zero", `{"a":2.0}`, "a", "2", true},
		{"upper exponent", `{"a":1.5E-3}`, "a", "0.0015", true},
		{"true", `{"a":true}`, "a", "true", true},
		{"false", `{"a":false}`, "a", "false", true},
		{"object compact", `{"a": { "b" : [1, 2 ,"x y"] } }`, "a", `{"b":[1,2,"x y"]}`, true},
		{"array", `{"a":[ ]}`, "a", `[]`, true},
		{"escapes", `{"a":"x\"y\\z\/\n\u00e9\u003c!here\u003e"}`, "a", "x\"y\\z/\né<!here>", true},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, "a", "😀", true},
		{"lone surrogate", `{"a":"\ud83dx"}`, "a", "\ufffdx", true},
		{"invalid utf-8", "{\"a\":\"x\xffy\"}", "a", "x\ufffdy", true},
		{"first occurrence wins", `{"status":"failed","status":"success"}`, "status", "failed", true},
		{"escaped key", `{"st\u0061tus":"denied"}`, "status", "denied", true},
		{"nested key is not top-level", `{"details":{"status":"x"},"action":"a"}`, "status", "", false},
		{"key inside a string", `{"a":"\"status\":\"x\"","b":1}`, "status", "", false},
		{"white space", " { \"a\" :\t\"v\" , \"b\" : 1 } ", "b", "1", true},
		{"unicode key", `{"ключ":"значение"}`, "ключ", "значение", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals := make([]Value, 1)
			if !lookupFields([]byte(tt.line), []string{tt.key}, vals) {
				t.Fatal("not ok")
			}
			if got := string(vals[0].Text([]byte(tt.line), nil)); got != tt.want {
				t.Errorf("Text = %q, want %q", got, tt.want)
			}
			if vals[0].Present() != tt.present {
				t.Errorf("Present = %v", vals[0].Present())
			}
		})
	}
}

func TestLookupFieldsSeveralKeys(t *testing.T) {
	line := `{"action":"login.oauth_failed","api_token_id":42,"status":"failed","ts":"2026-03-20T01:13:02Z","user_email":"m@example.net"}`
	got := lookupText(t, line, "user_email", "status", "nope", "api_token_id", "action")
	want := []string{"m@example.net", "failed", "", "42", "login.oauth_failed"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Invalid input is not lookupFields' business, but it must stay safe.
func TestLookupFieldsInvalid(t *testing.T) {
	for _, line := range []string{``, `[]`, `not json`, `"{"`} {
		vals := []Value{{kind: valuePlain, end: 1}}
		if lookupFields([]byte(line), []string{"a"}, vals) || vals[0].Present() {
			t.Errorf("%q: ok or a value", line)
		}
	}
	for _, line := range []string{`{`, `{"a`, `{"a"`, `{"a":`, `{"a":}`, `{"a":"x`, `{"a" "x"}`, `{"a":tru}`, `{"a":1}x`, `{"a":[1,{"b":"\`, `{"b":1,"a":"\`} {
		vals := make([]Value, 2)
		lookupFields([]byte(line), []string{"a", "b"}, vals)
		for _, v := range vals {
			_ = v.Text([]byte(line), nil)
		}
	}
}

// Every value agrees with encoding/json's reading of the line.
func TestLookupFieldsAgreesWithEncodingJSON(t *testing.T) {
	lines := []string{
		`{"action":"app.read","action_type":"convox","command":"convox apps info","http_status":200,"latency_ms":38,"rbac_decision":"allow","resource":"billing","resource_type":"app","status":"success","ts":"2026-03-20T01:12:46Z","user_email":"alice@example.com","user_name":"Alice Example"}`,
		`{"action":"user.update","details":"{\"roles\":[\"admin\"]}","resource":"42","ok":true,"n":null,"f":-0.25,"g":3e2,"o":{"x":[1,{"y":null}]}}`,
		`{"a":"tab\there","b":"\u2028","c":"<&>","d":""}`,
	}
	for _, line := range lines {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for k, raw := range m {
			want := ""
			switch {
			case raw[0] == '"':
				var s string
				json.Unmarshal(raw, &s)
				want = s
			case raw[0] == '{' || raw[0] == '[':
				var buf bytes.Buffer
				json.Compact(&buf, raw)
				want = buf.String()
			case string(raw) == "null":
			case string(raw) == "true" || string(raw) == "false":
				want = string(raw)
			default:
				f, _ := strconv.ParseFloat(string(raw), 64)
				want = strconv.FormatFloat(f, 'f', -1, 64)
			}
			if got := lookupText(t, line, k)[0]; got != want {
				t.Errorf("%s in %s: %q, want %q", k, line, got, want)
			}
		}
	}
}

// The index ClassifyFields builds answers as a scan of the line does.
func TestClassifyFieldsLookup(t *testing.T) {
	lines := []string{
		`{"action":"a","st\u0061tus":"x","status":"y","n":null,"o":{"status":1},"f":1.50,"s":"\u00e9","u":"x\xffy"}`,
		`{"action":"a"}`,
		`{}`,
	}
	for _, l := range benchLines(300) {
		lines = append(lines, string(l))
	}
	var many strings.Builder
	many.WriteString(`{"action":"a"`)
	for i := range 2 * maxIndexed {
		fmt.Fprintf(&many, `,"k%d":%d`, i, i)
	}
	many.WriteString(`,"status":"late"}`)
	lines = append(lines, many.String())
	keys := []string{"status", "action", "user_email", "n", "o", "f", "s", "u", "http_status", "latency_ms", "k90", "nope"}
	var f Fields
	for _, line := range lines {
		kind, _ := ClassifyFields([]byte(line), &f)
		if kind == KindMalformed {
			continue
		}
		got, want := make([]Value, len(keys)), make([]Value, len(keys))
		f.Lookup(keys, got)
		lookupFields([]byte(line), keys, want)
		for i := range keys {
			g, w := string(got[i].Text([]byte(line), nil)), string(want[i].Text([]byte(line), nil))
			if g != w || got[i].Present() != want[i].Present() {
				t.Errorf("%s in %s: index %q, scan %q", keys[i], line, g, w)
			}
		}
	}
	if !f.overflow {
		t.Error("the long line did not overflow the index")
	}
	if v := lookupText(t, many.String(), "status"); v[0] != "late" {
		t.Errorf("status of the long line = %q", v)
	}
}

func TestLookupFieldsDoesNotAllocate(t *testing.T) {
	line := []byte(`{"action":"login.oauth_failed","action_type":"auth","ip_address":"198.51.100.23","status":"failed","ts":"2026-03-20T01:13:02Z","user_agent":"curl/8.5.0","user_email":"mallory@example.net"}`)
	keys := []string{"status", "user_email"}
	var vals [2]Value
	var buf [64]byte
	n := testing.AllocsPerRun(100, func() {
		lookupFields(line, keys, vals[:])
		_ = vals[0].Text(line, buf[:0])
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func BenchmarkLookupFields(b *testing.B) {
	line := []byte(`{"action":"login.oauth_failed","action_type":"auth","ip_address":"198.51.100.23","status":"failed","ts":"2026-03-20T01:13:02Z","user_agent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36","user_email":"mallory@example.net","user_name":"Mallory"}`)
	for _, keys := range [][]string{{"status"}, {"status", "user_email"}, {"api_token_name"}} {
		b.Run(strings.Join(keys, "+"), func(b *testing.B) {
			var vals [4]Value
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				lookupFields(line, keys, vals[:])
			}
		})
	}
}

// BenchmarkFieldsLookup is what a `where` pays to find its fields in a
// routed line: by scanning it again, or in the index ClassifyFields built.
func BenchmarkFieldsLookup(b *testing.B) {
	lines := benchLines(1024, workload.Routed)
	for _, keys := range [][]string{{"status"}, {"status", "user_email"}, {"api_token_name"}} {
		name := strings.Join(keys, "+")
		b.Run("scan/"+name, func(b *testing.B) {
			var vals [4]Value
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				lookupFields(lines[i%len(lines)], keys, vals[:])
			}
		})
		b.Run("index/"+name, func(b *testing.B) {
			fs := make([]Fields, 8) // as in the pipeline: one index, hot in the cache
			for i := range fs {
				ClassifyFields(lines[i], &fs[i])
			}
			var vals [4]Value
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				fs[i%len(fs)].Lookup(keys, vals[:])
			}
		})
	}
}

// BenchmarkClassifyFields is Classify's price for indexing as it goes.
func BenchmarkClassifyFields(b *testing.B) {
	lines := benchLines(4096)
	var f Fields
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ClassifyFields(lines[i%len(lines)], &f)
	}
}
