package rules

import (
	_ "embed"
	"path"
	"slices"
	"strings"
)

// actionsText is the catalog of ACTIONS.md, built into the binary so that
// `auditfwd check` needs nothing at run time.
//
//go:embed actions.txt
var actionsText string

var catalog, catalogScopes = parseCatalog(actionsText)

func parseCatalog(text string) (actions, scopes []string) {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || slices.Contains(actions, line) {
			continue
		}
		actions = append(actions, line)
		if scope, _, ok := strings.Cut(line, "."); ok && !slices.Contains(scopes, scope) {
			scopes = append(scopes, scope)
		}
	}
	return actions, scopes
}

// Catalog returns the audit actions Rack Gateway is known to write, both
// those its code emits and those only its documentation names, in
// ACTIONS.md order. The caller may modify the slice.
func Catalog() []string { return slices.Clone(catalog) }

// catalogMatches returns the catalog actions pattern p matches.
func catalogMatches(p string) []string {
	var out []string
	for _, a := range catalog {
		if ok, _ := path.Match(p, a); ok {
			out = append(out, a)
		}
	}
	return out
}

// suggest returns the catalog action or pattern closest to p, which matches
// no catalog action, or "" when nothing is close enough to be a typo.
// Candidates are p with its scope replaced by a known scope ("lgoin.*" →
// "login.*"), the catalog actions, and "scope.*" for each known scope.
func suggest(p string) string {
	var cands []string
	if scope, rest, ok := strings.Cut(p, "."); ok && isLiteral(scope) {
		for _, s := range catalogScopes {
			if c := s + "." + rest; s != scope && len(catalogMatches(c)) > 0 {
				cands = append(cands, c)
			}
		}
	}
	cands = append(cands, catalog...)
	for _, s := range catalogScopes {
		cands = append(cands, s+".*")
	}
	best, bestDist := "", max(1, len(p)/3)+1
	for _, c := range cands {
		if d := editDistance(p, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of adjacent characters
// ("lgoin" is one edit from "login").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
