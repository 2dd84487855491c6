package redact

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/redact/redacttest"
)

func TestEveryBuiltinDetectorFindsItsSecret(t *testing.T) {
	r, err := New(Options{Secrets: true})
	if err != nil {
		t.Fatal(err)
	}
	tested := map[string]bool{}
	for _, c := range redacttest.Cases() {
		var n Counts
		got := r.Text(c.Value, &n)
		if strings.Contains(got, c.Secret) {
			t.Errorf("%s: the secret survives in %q", c.Detector, got)
		}
		if n[c.Detector] == 0 || !strings.Contains(got, Tag(c.Detector)) {
			t.Errorf("%s: %q became %q, counted %v; want it found by %s", c.Detector, c.Value, got, n, c.Detector)
		}
		tested[c.Detector] = true
	}
	// The detectors whose prefixes are plain literals are tested above
	// where they matter most; the rest need at least their list entry.
	for _, d := range Detectors() {
		if d.What == "" {
			t.Errorf("detector %s has no description", d.Name)
		}
	}
	for _, name := range []string{"slack-token", "slack-webhook-url", "aws-access-key-id", "aws-secret-access-key", "github-token",
		"gitlab-token", "jwt", "private-key", "bearer-token", "url-password", "secret-assignment"} {
		if !tested[name] {
			t.Errorf("no case for %s, a detector the contract names", name)
		}
	}
}

// TestDetectorsKeepWhatSurroundsTheSecret: only the secret goes, so the
// message still says what happened.
func TestDetectorsKeepWhatSurroundsTheSecret(t *testing.T) {
	r, _ := New(Options{Secrets: true})
	pass := "Zq9" + "rT4x" + "Lm2w"
	for in, want := range map[string]string{
		"psql postgres://app:" + pass + "@db:5432/app":   "psql postgres://app:[redacted:url-password]@db:5432/app",
		"convox env set DB_PASSWORD=" + pass + " -a app": "convox env set DB_PASSWORD=[redacted:secret-assignment] -a app",
		`{"password":"` + pass + `","user":"bob"}`:       `{"password":"[redacted:secret-assignment]","user":"bob"}`,
		"Authorization: Bearer " + pass + pass:           "Authorization: Bearer [redacted:bearer-token]",
	} {
		var n Counts
		if got := r.Text(in, &n); got != want {
			t.Errorf("%q\n got %q\nwant %q", in, got, want)
		}
	}
}

func TestOrdinaryValuesAreNotRedacted(t *testing.T) {
	r, _ := New(Options{Secrets: true})
	for _, v := range redacttest.Ordinary {
		var n Counts
		if got := r.Text(v, &n); got != v || len(n) > 0 {
			t.Errorf("%q became %q (%v); ordinary gateway values must pass unchanged", v, got, n)
		}
	}
}

func TestSecretsOffLeavesDetectorsOut(t *testing.T) {
	r, _ := New(Options{Secrets: false, Patterns: []string{`hunter[0-9]`}})
	c := redacttest.Cases()[0]
	var n Counts
	if got := r.Text(c.Value, &n); got != c.Value {
		t.Errorf("with secrets: false %q became %q", c.Value, got)
	}
	if got := r.Text("pw hunter2 and hunter3", &n); got != "pw [redacted] and [redacted]" || n[PatternLabel] != 2 {
		t.Errorf("patterns apply without secrets: got %q, %v", got, n)
	}
}

func TestDetectorNamesAreUniqueMetricLabels(t *testing.T) {
	var names []string
	for _, d := range Detectors() {
		if slices.Contains(names, d.Name) || d.Name == FieldLabel || d.Name == PatternLabel {
			t.Errorf("detector name %q twice or taken", d.Name)
		}
		names = append(names, d.Name)
	}
}

// TestDocsListEveryDetector keeps docs/redaction.md's table in step with
// the code.
func TestDocsListEveryDetector(t *testing.T) {
	doc, err := os.ReadFile("../../docs/redaction.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Detectors() {
		if !strings.Contains(string(doc), "| `"+d.Name+"` |") {
			t.Errorf("docs/redaction.md does not list %s", d.Name)
		}
	}
}

func TestEveryExpressionCompiles(t *testing.T) {
	for _, d := range builtins {
		if (d.re == nil) == (d.find == nil) {
			t.Errorf("%s: needs an expression or a finder, not both", d.name)
			continue
		}
		if d.re != nil {
			_ = d.re() // panics on a bad expression
		}
	}
}
