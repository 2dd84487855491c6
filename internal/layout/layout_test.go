package layout

import (
	"os"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/event"
)

func sample() event.Event {
	return event.Event{Action: "login.oauth_failed", TimeRaw: "2026-03-20T01:13:02Z", Fields: []event.Field{
		{Key: "status", Value: "failed"},
		{Key: "user_email", Value: "mallory@example.net"},
		{Key: "ip_address", Value: "198.51.100.23"},
		{Key: "details", Value: `{"reason":"bad password","attempt":3,"client":{"name":"cli","version":"1.2"}}`},
		{Key: "http_status", Value: "401"},
	}}
}

func plain(_, raw string) string { return raw }

func TestTitleRendersFieldsAndFunctions(t *testing.T) {
	ev := sample()
	for src, want := range map[string]string{
		"{{.user_email}} failed to log in from {{.ip_address}}":           "mallory@example.net failed to log in from 198.51.100.23",
		"{{.details.reason}} (attempt {{.details.attempt}})":              "bad password (attempt 3)",
		"{{.details.client.name}} {{.details.client}}":                    `cli {"name":"cli","version":"1.2"}`,
		"{{upper .status}} {{lower .action}} {{.http_status}}":            "FAILED login.oauth_failed 401",
		"{{.region | default \"no region\"}} / {{default \"x\" .status}}": "no region / failed",
		"{{trunc 5 .user_email}}|{{.user_email | trunc -11}}":             "mallo|example.net",
		"{{.missing}}{{.details.missing}}{{.nothing.at.all}}!":            "!",
		"{{if eq .status \"failed\"}}🚨 {{end}}{{.action}}":                "🚨 login.oauth_failed",
		"{{with .details}}{{.reason}}{{end}}":                             "bad password",
		"{{$.user_email}} {{.ts}}":                                        "mallory@example.net 2026-03-20T01:13:02Z",
	} {
		l, err := New("r", src, nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, err := l.Title(&ev, plain)
		if err != nil || got != want {
			t.Errorf("%s:\n got %q, %v\nwant %q", src, got, err, want)
		}
	}
}

// TestValuesPassThroughValueBeforeFunctions: a secret is replaced before
// trunc or upper could change it into something the detectors miss.
func TestValuesPassThroughValueBeforeFunctions(t *testing.T) {
	ev := sample()
	l, _ := New("r", "{{trunc 8 .details.reason}} {{upper .user_email}} {{.details}}", nil)
	var paths []string
	got, err := l.Title(&ev, func(path, raw string) string {
		paths = append(paths, path)
		return "[" + path + "]"
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "[details [USER_EMAIL] [details]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if strings.Join(paths, " ") != "details.reason user_email details" {
		t.Errorf("value was asked for %v", paths)
	}
}

func TestBadTitlesAreErrors(t *testing.T) {
	for src, want := range map[string]string{
		"{{.user_email":                          "unclosed action",
		"{{nosuch .user_email}}":                 `function "nosuch" not defined`,
		"   ":                                    "empty",
		`{{define "x"}}a{{end}}{{template "x"}}`: "not supported",
		`{{template "x"}}`:                       "not supported",
		"{{if .a}}x":                             "unexpected EOF",
	} {
		err := CheckTitle(src)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want an error saying %q", src, err, want)
		}
	}
}

func TestARuntimeFailureIsAnError(t *testing.T) {
	ev := sample()
	l, _ := New("security", `{{trunc .user_email .status}}`, nil)
	if _, err := l.Title(&ev, plain); err == nil || !strings.Contains(err.Error(), "security") {
		t.Errorf("got %v, want an error naming the rule", err)
	}
	if !l.FirstFailure() || l.FirstFailure() {
		t.Error("FirstFailure must be true once")
	}
}

func TestTitleOutputIsBounded(t *testing.T) {
	ev := sample()
	l, _ := New("r", strings.Repeat("{{.details}}", 100), nil)
	got, err := l.Title(&ev, plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != maxTitle {
		t.Errorf("got %d bytes", len(got))
	}
}

func TestFieldsAreChecked(t *testing.T) {
	for _, f := range []string{"", " user", "ts", "timestamp", "action", "details.", ".x", "a..b"} {
		if CheckField(f) == nil {
			t.Errorf("%q accepted", f)
		}
	}
	for _, f := range []string{"user", "status", "resource", "ip_address", "details.reason", "details.a.b", "region"} {
		if err := CheckField(f); err != nil {
			t.Errorf("%q: %v", f, err)
		}
	}
}

func TestValueReadsPaths(t *testing.T) {
	ev := sample()
	for p, want := range map[string]string{
		"user_email": "mallory@example.net", "action": "login.oauth_failed", "ts": "2026-03-20T01:13:02Z",
		"details.attempt": "3", "details.client.version": "1.2", "details.client": `{"name":"cli","version":"1.2"}`,
	} {
		if got, ok := Value(&ev, p); !ok || got != want {
			t.Errorf("Value(%s) = %q, %v", p, got, ok)
		}
	}
	for _, p := range []string{"nope", "details.nope", "user_email.x", "details.client.name.x"} {
		if got, ok := Value(&ev, p); ok {
			t.Errorf("Value(%s) = %q, want absent", p, got)
		}
	}
}

// TestDocumentedTitlesWork renders every title docs/templates.md shows.
func TestDocumentedTitlesWork(t *testing.T) {
	doc, err := os.ReadFile("../../docs/templates.md")
	if err != nil {
		t.Fatal(err)
	}
	ev := sample()
	n := 0
	for _, line := range strings.Split(string(doc), "\n") {
		src, ok := strings.CutPrefix(strings.TrimSpace(line), "title: ")
		if !ok {
			continue
		}
		src = strings.Trim(src, `'"`)
		l, err := New("doc", src, nil)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if got, err := l.Title(&ev, plain); err != nil || got == "" {
			t.Errorf("%s: %q, %v", src, got, err)
		}
		n++
	}
	if n < 4 {
		t.Errorf("only %d titles found in the doc", n)
	}
}
