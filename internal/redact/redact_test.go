package redact

import (
	"strings"
	"testing"
)

func TestFieldGlobsHidePathsAndKeysInsideObjects(t *testing.T) {
	r, err := New(Options{Secrets: true, Fields: []string{"command", "details.*token*", "details.db.password", "ssn"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path, in, want string
		fields         int
	}{
		{"command", "convox env set A=b", Hidden, 1},
		{"user_email", "alice@example.com", "alice@example.com", 0},
		{"details", `{"api_token":"abc","name":"ci","n":1}`, `{"api_token":"[redacted]","name":"ci","n":1}`, 1},
		{"details", `{"db":{"password":"p1","host":"db"},"x":[1, 2]}`, `{"db":{"password":"[redacted]","host":"db"},"x":[1,2]}`, 1},
		{"details", `{"reason":"<b>&</b>"}`, `{"reason":"<b>&</b>"}`, 0},
		{"details", `not json {"token_id":1}`, `not json {"token_id":1}`, 0},
		{"details", `{"token_id":"a"} trailing`, `{"token_id":"a"} trailing`, 0},
		{"details.refresh_token", "x", Hidden, 1},
		{"ssn", "", "", 0},
	} {
		var n Counts
		if got := r.Field(c.path, c.in, &n); got != c.want || n[FieldLabel] != c.fields {
			t.Errorf("Field(%s, %q) = %q (%v), want %q with %d field redactions", c.path, c.in, got, n, c.want, c.fields)
		}
	}
	if !r.Hides("details.session_token") || r.Hides("details") || !r.Hides("command") || r.Hides("commands") {
		t.Error("Hides disagrees with the globs")
	}
}

func TestTheActionAndTheTimeAreNeverHidden(t *testing.T) {
	r, _ := New(Options{Fields: []string{"*"}})
	if r.Hides("action") || r.Hides("ts") || r.Hides("timestamp") || !r.Hides("status") || !r.Hides("details.ts") {
		t.Error("* must hide every field but the action and the timestamp")
	}
}

func TestFieldGlobOnAnObjectHidesWhatIsInside(t *testing.T) {
	r, _ := New(Options{Fields: []string{"details"}})
	if !r.Hides("details.reason") || !r.Hides("details.a.b") {
		t.Error("a hidden object must hide its keys too (templates insert details.x)")
	}
}

func TestAWildcardGlobReachesInsideObjects(t *testing.T) {
	r, _ := New(Options{Fields: []string{"*password*"}})
	var n Counts
	got := r.Field("details", `{"user":"bob","new_password":"x1"}`, &n)
	if got != `{"user":"bob","new_password":"[redacted]"}` || n[FieldLabel] != 1 {
		t.Errorf("got %q %v", got, n)
	}
	if got := r.Field("db_password", "x", &n); got != Hidden {
		t.Errorf("top-level field: got %q", got)
	}
}

func TestAHugeObjectUnderAGlobIsHiddenWhole(t *testing.T) {
	r, _ := New(Options{Fields: []string{"details.token"}})
	big := `{"a":"` + strings.Repeat("x", maxObject) + `"}`
	var n Counts
	if got := r.Field("details", big, &n); got != Hidden {
		t.Errorf("got %d bytes, want it hidden", len(got))
	}
}

func TestPatternsReplaceTheFirstGroupOrTheWholeMatch(t *testing.T) {
	r, err := New(Options{Patterns: []string{`\b\d{3}-\d{2}-\d{4}\b`, `(?i)x-internal-key:\s*(\S+)`}})
	if err != nil {
		t.Fatal(err)
	}
	var n Counts
	got := r.Text("ssn 123-45-6789, X-Internal-Key: k42 and 987-65-4321", &n)
	if want := "ssn [redacted], X-Internal-Key: [redacted] and [redacted]"; got != want || n[PatternLabel] != 3 {
		t.Errorf("got %q %v, want %q", got, n, want)
	}
}

func TestInvalidPatternsAndGlobsAreErrors(t *testing.T) {
	for _, o := range []Options{
		{Patterns: []string{`(unclosed`}},
		{Patterns: []string{`a*`}},
		{Patterns: []string{`(?=lookahead)`}},
		{Fields: []string{"[a-"}},
		{Fields: []string{" "}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted it", o)
		}
	}
}

func TestANilRedactorChangesNothing(t *testing.T) {
	var r *Redactor
	var n Counts
	if r.Field("command", "x", &n) != "x" || r.Text("y", &n) != "y" || r.Hides("command") || n != nil {
		t.Error("a nil Redactor must be a no-op")
	}
}

func TestTextThatMatchesNothingIsNotCopied(t *testing.T) {
	r, _ := New(Options{Secrets: true})
	in := "alice@example.com logged in from 203.0.113.7"
	if allocs := testing.AllocsPerRun(100, func() {
		var n Counts
		_ = r.Text(in, &n)
	}); allocs != 0 {
		t.Errorf("%v allocations for a value with nothing to redact", allocs)
	}
}

// TestJSONInJSONIsSearched: details documents carry JSON in strings, whose
// quotes arrive escaped once, twice or more.
func TestJSONInJSONIsSearched(t *testing.T) {
	r, _ := New(Options{Secrets: true})
	for _, in := range []string{
		`{"env":"{\"db_password\":\"pw9x\"}"}`,
		`{"note":"{\"env\":\"{\\\"db_password\\\":\\\"pw9x\\\"}\"}","attempt":1}`,
		`{"a":"{\"b\":\"{\\\"c\\\":\\\"{\\\\\\\"token\\\\\\\":\\\\\\\"pw9x\\\\\\\"}\\\"}\"}"}`,
	} {
		var n Counts
		if got := r.Text(in, &n); strings.Contains(got, "pw9x") {
			t.Errorf("%s\nbecame %s", in, got)
		}
	}
}
