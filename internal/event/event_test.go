package event

import (
	"reflect"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		line   string
		kind   Kind
		action string
	}{
		{`{"action":"login.complete","status":"success"}`, KindEvent, "login.complete"},
		{` {"ts":"2026-03-20T01:12:44Z", "action" : "logout" } `, KindEvent, "logout"},
		{`{"a":{"action":"x"},"action":"release.promote"}`, KindEvent, "release.promote"},
		{`{"action":"a\u002eb"}`, KindEvent, "a.b"},
		{`{"\u0061ction":"a.b"}`, KindEvent, "a.b"},
		{`{"method":"GET","path":"/","status":200}`, KindNotAudit, ""},
		{`{"action":""}`, KindNotAudit, ""},
		{`{"action":5}`, KindNotAudit, ""},
		{`{"action":null}`, KindNotAudit, ""},
		{`{}`, KindNotAudit, ""},
		{`{"action":"x"`, KindMalformed, ""},
		{`{"action":"x"} trailing`, KindMalformed, ""},
		{`["action"]`, KindMalformed, ""},
		{`not json`, KindMalformed, ""},
		{"", KindMalformed, ""},
		{"\x00\x00\x00", KindMalformed, ""},
		{`{"action":"x","n":01}`, KindMalformed, ""},
		{`{"action":"x","n":1.}`, KindMalformed, ""},
		{`{"action":"x","s":"bad \q escape"}`, KindMalformed, ""},
		{`{"action":"x","n":-1.5e+3,"b":true,"z":null,"l":[1,{"a":[]}]}`, KindEvent, "x"},
		{`{"action":"x",}`, KindMalformed, ""},
		{"{\"action\":\"x\ty\"}", KindMalformed, ""},
		{`{"action":"x"}{"action":"y"}`, KindMalformed, ""},
	}
	for _, c := range cases {
		kind, action := Classify([]byte(c.line))
		if kind != c.kind || string(action) != c.action {
			t.Errorf("Classify(%q) = %v %q, want %v %q", c.line, kind, action, c.kind, c.action)
		}
	}
}

func TestClassifyDeepNestingIsMalformedNotACrash(t *testing.T) {
	line := `{"action":"x","d":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`
	if kind, _ := Classify([]byte(line)); kind != KindMalformed {
		t.Fatalf("kind %v", kind)
	}
}

func FuzzClassifyAgreesWithParse(f *testing.F) {
	f.Add(`{"action":"login.complete","user_email":"a@b"}`)
	f.Add(`{"action":1}`)
	f.Add(`{"x":[1,2,{"y":"z"}],"action":"a"}`)
	f.Fuzz(func(t *testing.T, line string) {
		kind, action := Classify([]byte(line))
		ev, err := Parse([]byte(line))
		if kind == KindEvent && (err != nil || ev.Action != string(action)) {
			t.Fatalf("Classify says event %q, Parse says %q %v", action, ev.Action, err)
		}
	})
}

// ParseChecked answers as Classify and Parse together: Classify's kind,
// and for an event Parse's event.
func FuzzParseCheckedAgreesWithClassifyAndParse(f *testing.F) {
	f.Add(`{"action":"login.complete","user_email":"a@b"}`)
	f.Add(`{"action":1}`)
	f.Add(`{"x":[1,2,{"y":"z"}],"action":"a"}`)
	f.Add(`{"action":"a","n":2` + "\r" + `{"pos":1}`)
	f.Add(`{"action":"a\u00e9","t":"\ud800"}`)
	f.Fuzz(func(t *testing.T, line string) {
		ev, kind := ParseChecked([]byte(line))
		want, _ := Classify([]byte(line))
		if kind != want {
			t.Fatalf("ParseChecked(%q) kind %v, Classify %v", line, kind, want)
		}
		if kind != KindEvent {
			return
		}
		pev, err := Parse([]byte(line))
		if err != nil || !reflect.DeepEqual(ev, pev) {
			t.Fatalf("ParseChecked(%q) = %+v, Parse %+v %v", line, ev, pev, err)
		}
	})
}

func TestParseKeepsOrderAndUnknownKeys(t *testing.T) {
	ev, err := Parse([]byte(`{"action":"login.complete","api_token_id":42,"details":{"a":1},"empty":"","nothing":null,"status":"success","ts":"2026-03-20T01:12:44Z","zzz_unknown":"kept"}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Action != "login.complete" || ev.Time.IsZero() || ev.TimeRaw != "2026-03-20T01:12:44Z" {
		t.Fatalf("%+v", ev)
	}
	var keys []string
	for _, f := range ev.Fields {
		keys = append(keys, f.Key+"="+f.Value)
	}
	if got := strings.Join(keys, " "); got != `api_token_id=42 details={"a":1} status=success zzz_unknown=kept` {
		t.Fatalf("fields: %s", got)
	}
}

func TestParseDatabaseExportShape(t *testing.T) {
	ev, err := Parse([]byte(`{"id":7,"timestamp":"2026-03-20T01:12:44.123456789Z","action":"release.promote","details":"{\"x\":1}","request_id":"r1"}`))
	if err != nil || ev.Time.Nanosecond() != 123456789 || ev.Get("request_id") != "r1" || ev.Get("details") != `{"x":1}` {
		t.Fatalf("%+v %v", ev, err)
	}
}

func TestUnwrap(t *testing.T) {
	u := NewUnwrapper(FormatAuto, 1000)
	cases := []struct{ raw, want string }{
		{`{"action":"a"}`, `{"action":"a"}`},
		{`{"log":"{\"action\":\"b\"}\n","stream":"stdout","time":"2026-03-20T01:12:44.1Z"}`, `{"action":"b"}`},
		{`2026-03-20T01:12:44.123456789Z stdout F {"action":"c"}`, `{"action":"c"}`},
	}
	for _, c := range cases {
		line, done, over := u.Unwrap([]byte(c.raw))
		if !done || over || string(line) != c.want {
			t.Errorf("Unwrap(%q) = %q %v %v", c.raw, line, done, over)
		}
	}
}

func TestUnwrapCRIPartialLinesJoin(t *testing.T) {
	u := NewUnwrapper(FormatCRI, 1000)
	if _, done, _ := u.Unwrap([]byte(`2026-03-20T01:12:44Z stdout P {"action":`)); done || !u.Pending() {
		t.Fatal("partial line reported done")
	}
	line, done, _ := u.Unwrap([]byte(`2026-03-20T01:12:44Z stdout F "x.y"}`))
	if !done || string(line) != `{"action":"x.y"}` || u.Pending() {
		t.Fatalf("joined %q %v", line, done)
	}
}

func TestUnwrapJoinedLineOverMaxIsOversized(t *testing.T) {
	u := NewUnwrapper(FormatDocker, 10)
	u.Unwrap([]byte(`{"log":"0123456789","stream":"stdout"}`))
	_, done, over := u.Unwrap([]byte(`{"log":"abc\n","stream":"stdout"}`))
	if !done || !over {
		t.Fatalf("done %v oversized %v", done, over)
	}
}

func TestDuplicateActionKeyFirstDecidesInBothClassifyAndParse(t *testing.T) {
	for _, line := range []string{
		`{"action":"login.complete","action":"app.read"}`,
		`{"action":5,"action":"login.complete"}`,
	} {
		kind, action := Classify([]byte(line))
		ev, err := Parse([]byte(line))
		if kind == KindEvent {
			if err != nil || ev.Action != string(action) {
				t.Errorf("%s: Classify routes by %q, Parse shows %q (%v)", line, action, ev.Action, err)
			}
		} else if err == nil {
			t.Errorf("%s: Classify says %v, Parse found action %q", line, kind, ev.Action)
		}
	}
}
