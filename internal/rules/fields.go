package rules

import (
	_ "embed"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/auditfwd/auditfwd/internal/suggest"
)

// fieldsText is the catalog of the fields the gateway writes, built into the
// binary like the action catalog.
//
//go:embed fields.txt
var fieldsText string

// fieldCatalog maps each known field to its closed set of values, nil when
// any value is possible; fieldNames keeps the catalog's order.
var fieldCatalog, fieldNames = parseFields(fieldsText)

func parseFields(text string) (map[string][]string, []string) {
	m := map[string][]string{}
	var names []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, values, _ := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if _, dup := m[name]; dup {
			continue
		}
		var closed []string // nil: any value
		if vs := strings.Fields(values); len(vs) > 0 {
			closed = vs
		}
		m[name] = closed
		names = append(names, name)
	}
	return m, names
}

// closestField returns the known field closest to name, or "" when none is
// close enough to be a typo.
func closestField(name string) string {
	return closest(name, fieldNames)
}

// closest returns the candidate closest to s by edit distance, or "" when
// none is within a third of s's length (at least 1).
func closest(s string, cands []string) string {
	best, bestDist := "", max(1, len(s)/3)+1
	n := utf8.RuneCountInString(s)
	for _, c := range cands {
		// The distance is at least the difference in length: a long
		// pattern costs nothing against short candidates.
		if diff := n - utf8.RuneCountInString(c); diff >= bestDist || -diff >= bestDist {
			continue
		}
		if d := suggest.Distance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// valuesMatched returns the values of a closed set that glob matches.
func valuesMatched(glob string, values []string) []string {
	var out []string
	for _, v := range values {
		if ok, _ := path.Match(glob, v); ok {
			out = append(out, v)
		}
	}
	return out
}
