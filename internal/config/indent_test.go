package config

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestStructureErrorsNameTheLineAndHintAtIndentation(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"a key indented under one that has a value", "audit_log:\n  path: /x\n   format: json\n",
			"c.yaml:3: invalid YAML: mapping values are not allowed in this context; check the indentation: " +
				"line 3 is indented 3 spaces, more than line 2 (2), whose key has its value already; keys of one mapping line up in one column"},
		{"a key of a channel indented one space too far", "channels:\n  - name: security\n    slack_channel: \"#security\"\n     actions: [x]\n",
			"c.yaml:4: invalid YAML: did not find expected key (in the block that starts at line 1); check the indentation: " +
				"line 4 is indented 5 spaces, more than line 3 (4), whose key has its value already; keys of one mapping line up in one column"},
		{"a key of a channel lined up with its dash", "channels:\n  - name: security\n  slack_channel: \"#security\"\n    actions: [x]\n",
			"c.yaml:3: invalid YAML: did not find expected '-' indicator (in the block that starts at line 1); check the indentation: " +
				`line 3 is indented 2 spaces, less than line 2 (4); keys of one mapping line up in one column, and so do the "- " of one list's items`},
		{"a list item out of line, after comments and blank lines", "# rules\nchannels:\n  - name: a\n    slack_channel: x\n    actions:\n    - a\n\n    # more\n   - b\n",
			"c.yaml:9: invalid YAML: did not find expected '-' indicator (in the block that starts at line 2); check the indentation: " +
				`line 9 is indented 3 spaces, less than line 6 (4); keys of one mapping line up in one column, and so do the "- " of one list's items`},
		{"an unquoted value holding a colon", "channels:\n  - name: a\n    slack_channel: x\n    actions: [a]\n    thread_by: note: x\n",
			"c.yaml:5: invalid YAML: mapping values are not allowed in this context; check line 5: each key needs a line of its own, " +
				`and a value that holds ": " (or starts with a quote and goes on after it) must be quoted whole`},
		{"a top-level key indented", "state_dir: /x\nlog_level: info\n slack: {}\n",
			"c.yaml:3: invalid YAML: mapping values are not allowed in this context; check the indentation: " +
				"line 3 is indented 1 space, more than line 2 (0), whose key has its value already; keys of one mapping line up in one column"},
		{"the first key indented", "# auditfwd\n  state_dir: /x\n  log_level: info\nslack: {}\n",
			"c.yaml:2: invalid YAML: did not find expected <document start>; check the indentation: " +
				"line 2, the first key, is indented 2 spaces; top-level keys start in the first column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "c.yaml")
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// A sweep over the complete example: every line in turn indented one space
// further, then one space less. Whenever the parser calls the result a
// structure error, the error names that very line (not the line where
// the enclosing block starts, as yaml.v3 does) and gives the hint.
func TestStructureErrorLineSweep(t *testing.T) {
	data, err := os.ReadFile("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	checked := 0
	for i, l := range lines {
		if !significant(l) {
			continue
		}
		for _, moved := range []string{" " + l, strings.TrimPrefix(l, " ")} {
			if moved == l {
				continue
			}
			changed := append([]string(nil), lines...)
			changed[i] = moved
			_, err := Parse([]byte(strings.Join(changed, "\n")), "c.yaml")
			if err == nil || !strings.Contains(err.Error(), "invalid YAML") || !isStructureProblem(err.Error()) {
				continue
			}
			checked++
			got, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "c.yaml:"), ":")
			named, _ := strconv.Atoi(got)
			switch {
			case named == i+1:
			case named == nextSignificant(changed, i+1) && strings.Contains(err.Error(), "line "+strconv.Itoa(i+1)):
				// The moved line was the first of its block and set the
				// block's column: the next line is out of place, and the
				// hint names both.
			case continuesScalar(changed, i, named):
				// A list item moved left under items indented further: YAML
				// reads those as the rest of its text, up to the line named.
			default:
				t.Errorf("line %d %q: %v", i+1, moved, err)
			}
			if !strings.Contains(err.Error(), "; check ") {
				t.Errorf("line %d %q: no hint: %v", i+1, moved, err)
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d structure errors in the sweep; the example should give many more", checked)
	}
	t.Logf("%d structure errors checked", checked)
}

// nextSignificant is the 1-based number of the first line after line n
// that holds YAML content.
func nextSignificant(lines []string, n int) int {
	for i := n; i < len(lines); i++ {
		if significant(lines[i]) {
			return i + 1
		}
	}
	return 0
}

// continuesScalar reports whether the lines after line i (0-based) up to
// line named (1-based) are list items indented further than line i, with
// at most comments between: the continuation of line i's plain scalar.
func continuesScalar(lines []string, i, named int) bool {
	if named <= i+1 || !isItem(lines[i]) {
		return false
	}
	for _, l := range lines[i+1 : named-1] {
		if significant(l) && (!isItem(l) || indentation(l) <= indentation(lines[i])) {
			return false
		}
	}
	return true
}

// The search for the line parses prefixes of the file: for the largest
// file it searches (the error at its end, yaml.v3 naming line 1) it must
// stay far below a second.
func BenchmarkStructureErrorInALargeFile(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("channels:\n")
	for i := 0; sb.Len() < maxSearchBytes-200; i++ {
		sb.WriteString("  - name: c" + strconv.Itoa(i) + "\n    slack_channel: \"#c\"\n    actions: [login.complete]\n")
	}
	sb.WriteString("     thread_by: x\n")
	data := []byte(sb.String())
	for b.Loop() {
		if _, err := Parse(data, "c.yaml"); err == nil || !strings.Contains(err.Error(), "; check the indentation") {
			b.Fatal(err)
		}
	}
}
