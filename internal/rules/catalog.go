package rules

import (
	_ "embed"
	"path"
	"slices"
	"strings"
)

// actionsText is the catalog of the gateway's actions, built into the binary so that
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
// catalog order. The caller may modify the slice.
func Catalog() []string { return slices.Clone(catalog) }

// catalogMatches returns the catalog actions pattern p matches.
func catalogMatches(p string) []string {
	var out []string
	lit := literalPrefix(p)
	for _, a := range catalog {
		// The literal prefix rules out most actions without path.Match.
		if !strings.HasPrefix(a, lit) {
			continue
		}
		if ok, _ := path.Match(p, a); ok {
			out = append(out, a)
		}
	}
	return out
}

// literalPrefix is p up to its first glob metacharacter.
func literalPrefix(p string) string {
	if i := strings.IndexAny(p, `*?[\`); i >= 0 {
		return p[:i]
	}
	return p
}

// closestKnown returns the catalog action or pattern closest to p, which matches
// no catalog action, or "" when nothing is close enough to be a typo.
// Candidates are p with its scope replaced by a known scope ("lgoin.*" →
// "login.*"), the catalog actions, and "scope.*" for each known scope.
func closestKnown(p string) string {
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
	return closest(p, cands)
}
