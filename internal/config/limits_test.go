package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aliasConfig is a valid config whose channels share one actions list of n
// patterns through uses aliases.
func aliasConfig(n, uses int) string {
	var b strings.Builder
	b.WriteString("channels:\n  - name: c0\n    slack_channel: \"#c0\"\n    actions: &p\n")
	for i := range n {
		fmt.Fprintf(&b, "      - \"login.x%d\"\n", i)
	}
	for i := 1; i <= uses; i++ {
		fmt.Fprintf(&b, "  - name: c%d\n    slack_channel: \"#c%d\"\n    actions: *p\n", i, i)
	}
	return b.String()
}

func TestAliasesThatExpandTheConfigMoreThanTenfoldAreRefused(t *testing.T) {
	// Within the limit: nine uses of a 200-pattern list.
	if _, err := Parse([]byte(aliasConfig(200, 8)), "c.yaml"); err != nil {
		t.Fatalf("eightfold aliases refused: %v", err)
	}
	// Beyond it: a list used 400 times (the probe's shape).
	_, err := Parse([]byte(aliasConfig(200, 400)), "c.yaml")
	if err == nil || !strings.Contains(err.Error(), "YAML aliases expand this configuration to more than 10 times") {
		t.Fatalf("a 400-fold alias bomb: %v, want it refused for its aliases", err)
	}
	// Nested anchors ("billion laughs") are counted without being expanded.
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for i, prev := 0, "a"; i < 12; i++ {
		name := fmt.Sprintf("l%d", i)
		bomb += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	if _, err := Parse([]byte(bomb), "c.yaml"); err == nil || !strings.Contains(err.Error(), "YAML aliases") {
		t.Fatalf("billion laughs: %v, want it refused for its aliases", err)
	}
}

func TestAFileOver4MiBIsRefused(t *testing.T) {
	big := "# " + strings.Repeat("x", MaxFileBytes) + "\nchannels: []\n"
	if _, err := Parse([]byte(big), "c.yaml"); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("Parse of %d bytes: %v, want it refused for its size", len(big), err)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(big), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than 4 MiB") {
		t.Errorf("Load of %d bytes: %v, want it refused for its size", len(big), err)
	}
	if _, err := ReadFile(path); err == nil {
		t.Error("ReadFile read a file over the limit")
	}
	if _, err := Parse([]byte("# "+strings.Repeat("x", MaxFileBytes-100)+"\nchannels: []\n"), "c.yaml"); err != nil {
		t.Errorf("a file just under 4 MiB: %v", err)
	}
}
