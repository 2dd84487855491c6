package event

import (
	"errors"
	"reflect"
	"testing"
)

// Parse takes a fast path for valid lines; parseDecoder is the reference.
func checkParseAgrees(t *testing.T, line []byte) {
	t.Helper()
	ev1, err1 := Parse(line)
	ev2, err2 := parseDecoder(line)
	if (err1 == nil) != (err2 == nil) || errors.Is(err1, ErrNotAudit) != errors.Is(err2, ErrNotAudit) {
		t.Fatalf("Parse(%q): error %v, reference %v", line, err1, err2)
	}
	if (err1 == nil || errors.Is(err1, ErrNotAudit)) && !reflect.DeepEqual(ev1, ev2) {
		t.Fatalf("Parse(%q) =\n%#v\nreference\n%#v", line, ev1, ev2)
	}
}

func FuzzParseAgreesWithDecoder(f *testing.F) {
	for _, s := range []string{
		`{"action":"login.complete","api_token_id":42,"details":{"a":1},"empty":"","nothing":null,"status":"success","ts":"2026-03-20T01:12:44Z","zzz_unknown":"kept"}`,
		`{"id":7,"timestamp":"2026-03-20T01:12:44.123456789Z","action":"release.promote","details":"{\"x\":1}","request_id":"r1"}`,
		`{"action":"x","action":"","ts":"","ts":"2026-03-20T01:12:44Z","timestamp":"t"}`,
		`{"action":5,"ts":5,"action":"y"}`, `{"a":[ 1 , {"b" : 2} ],"action":"x"}`,
		`{"\u0061ction":"a\u002eb","k\u00e9":"v\n"}`, "{\"action\":\"x\",\"k\":\"\xff\"}", "{\"\xff\":1,\"action\":\"x\"}",
		` {"action":"x"} `, `{"action":"x"} trailing`, `{"action":"x"}{"action":"y"}`, `{}`, `{"action":null}`,
		`{"action":"x","b":true,"f":false,"n":-1.5e+3,"z":0}`, `not json`, ``, `[1]`, `{"action":"x",}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) { checkParseAgrees(t, []byte(line)) })
}

func TestParseAgreesWithDecoderOnWorkload(t *testing.T) {
	for _, line := range benchLines(5000) {
		checkParseAgrees(t, line)
	}
}
