package config

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yaml.v3's words for a document whose nesting is wrong: almost always a
// line indented too far or not far enough, or a value holding ": ".
var structureProblems = []string{
	"mapping values are not allowed in this context",
	"did not find expected key",
	"did not find expected '-' indicator",
	"block sequence entries are not allowed in this context",
	"could not find expected ':'",
	"did not find expected <document start>",
}

func isStructureProblem(msg string) bool {
	for _, p := range structureProblems {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// maxSearchBytes bounds the files offendingLine searches (it parses up to
// about 20 prefixes): real configs are a few KiB, and check and reload must
// stay fast for any file.
const maxSearchBytes = 256 << 10

// offendingLine finds the line that breaks the document's structure.
// yaml.v3 names the line where the enclosing block starts (line 1 for a
// mistake in line 40 of the channels list), so this looks for the shortest
// run of whole lines from the top that fails with the same error: a
// streaming parser fails there and at every longer prefix, while shorter
// prefixes parse or fail differently (cut off mid-value). from is the line
// yaml.v3 named; it returns from when nothing better is found.
func offendingLine(data []byte, errText string, from int) int {
	if len(data) > maxSearchBytes {
		return from
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(n int) bool {
		var doc yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:n], nil), &doc)
		return err != nil && err.Error() == errText
	}
	lo := max(from, 1)
	if lo > len(lines) || !fails(len(lines)) {
		return from
	}
	// The first n in [lo, len(lines)] with fails(n); fails(len(lines)) holds.
	n := lo + sort.Search(len(lines)-lo, func(i int) bool { return fails(lo + i) })
	return n
}

// indentHint says, in a person's words, what is wrong with the indentation
// of line bad (1-based) next to the line above it, for a structure error,
// and which line to name: bad, or the line that caused it.
func indentHint(data []byte, bad int) (line int, hint string) {
	lines := strings.Split(string(data), "\n")
	if bad < 1 || bad > len(lines) {
		return bad, "check the indentation: keys of one mapping start in the same column, and what belongs under a key is indented further than the key"
	}
	prev := 0
	for i := bad - 1; i >= 1; i-- {
		if significant(lines[i-1]) {
			prev = i
			break
		}
	}
	if prev == 0 {
		return bad, fmt.Sprintf("check the indentation of line %d: top-level keys start in the first column", bad)
	}
	// The first key sets the top level's column: indented, it makes every
	// later top-level key look misplaced.
	for i, l := range lines[:bad-1] {
		if significant(l) {
			if n := indentation(l); n > 0 {
				return i + 1, fmt.Sprintf("check the indentation: line %d, the first key, is indented %s; top-level keys start in the first column", i+1, spaces(n))
			}
			break
		}
	}
	cur, above := lines[bad-1], lines[prev-1]
	// A key lines up with the keys of its mapping (after a "- " of a list
	// item: "- name:" and "  slack_channel:" are one mapping); an item's
	// "- " lines up with the other items' "- ".
	col, pcol := indentation(cur), keyColumn(above)
	if isItem(cur) && isItem(above) {
		pcol = indentation(above)
	}
	switch {
	case col > pcol && !opensBlock(above):
		return bad, fmt.Sprintf("check the indentation: line %d is indented %s, more than line %d (%d), whose key has its value already; "+
			"keys of one mapping line up in one column", bad, spaces(col), prev, pcol)
	case col < pcol:
		return bad, fmt.Sprintf("check the indentation: line %d is indented %s, less than line %d (%d); "+
			"keys of one mapping line up in one column, and so do the \"- \" of one list's items", bad, spaces(col), prev, pcol)
	default:
		return bad, fmt.Sprintf("check line %d: each key needs a line of its own, and a value that holds \": \" "+
			"(or starts with a quote and goes on after it) must be quoted whole", bad)
	}
}

func spaces(n int) string {
	if n == 1 {
		return "1 space"
	}
	return fmt.Sprintf("%d spaces", n)
}

// significant reports whether a line holds YAML content (not blank, not
// only a comment).
func significant(line string) bool {
	t := strings.TrimSpace(line)
	return t != "" && !strings.HasPrefix(t, "#")
}

func indentation(line string) int { return len(line) - len(strings.TrimLeft(line, " ")) }

// isItem reports whether the line starts a list item ("- ").
func isItem(line string) bool {
	t := strings.TrimLeft(line, " ")
	return t == "-" || strings.HasPrefix(t, "- ")
}

// keyColumn is where the line's key (or scalar) starts: after the
// indentation and any "- " list markers.
func keyColumn(line string) int {
	col := 0
	for col < len(line) {
		switch {
		case line[col] == ' ':
			col++
		case line[col] == '-' && (col+1 == len(line) || line[col+1] == ' '):
			col++
		default:
			return col
		}
	}
	return col
}

// opensBlock reports whether a line ends with a key whose value follows on
// the next lines ("channels:", "- name:"), is a bare list marker, or
// starts a block scalar.
func opensBlock(line string) bool {
	t := strings.TrimSpace(line)
	if i := strings.Index(t, " #"); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	return strings.HasSuffix(t, ":") || t == "-" || strings.HasSuffix(t, "|") || strings.HasSuffix(t, ">")
}
