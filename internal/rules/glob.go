package rules

import (
	"path"
	"strings"
)

// glob is one path.Match pattern, compiled for the shapes rules use most:
// a literal, "prefix*", "*suffix", "*" and "*part*" are decided without
// path.Match, with its semantics (a '*' never matches a '/').
type glob struct {
	kind    globKind
	text    string // the literal, prefix, suffix or part; unescaped
	pattern string // as written, for path.Match
}

type globKind uint8

const (
	globMatch    globKind = iota // anything else: path.Match decides
	globLiteral                  // text
	globPrefix                   // text*
	globSuffix                   // *text
	globAny                      // *
	globContains                 // *text*
)

// compileGlob compiles a pattern check accepted.
func compileGlob(p string) glob {
	g := glob{pattern: p}
	lead := strings.HasPrefix(p, "*")
	trail := len(p) > 1 && strings.HasSuffix(p, "*") && !strings.HasSuffix(p, `\*`)
	mid := p
	if lead {
		mid = mid[1:]
	}
	if trail {
		mid = mid[:len(mid)-1]
	}
	text, ok := unescapeLiteral(mid)
	if !ok {
		return g
	}
	g.text = text
	switch {
	case p == "*":
		g.kind = globAny
	case lead && trail:
		if strings.Contains(text, "/") || text == "" {
			return g // path.Match's '*' stops at '/': leave the subtle cases to it
		}
		g.kind = globContains
	case lead:
		g.kind = globSuffix
	case trail:
		g.kind = globPrefix
	default:
		g.kind = globLiteral
	}
	return g
}

// unescapeLiteral returns p without its backslash escapes when p has no
// wildcard or class; ok is false otherwise.
func unescapeLiteral(p string) (string, bool) {
	if !strings.ContainsAny(p, `*?[\`) {
		return p, true
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*', '?', '[':
			return "", false
		case '\\':
			if i+1 == len(p) {
				return "", false
			}
			i++
			b.WriteByte(p[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func (g *glob) match(s string) bool {
	switch g.kind {
	case globLiteral:
		return s == g.text
	case globPrefix:
		return strings.HasPrefix(s, g.text) && !strings.Contains(s[len(g.text):], "/")
	case globSuffix:
		return strings.HasSuffix(s, g.text) && !strings.Contains(s[:len(s)-len(g.text)], "/")
	case globAny:
		return !strings.Contains(s, "/")
	case globContains:
		return strings.Contains(s, g.text) && !strings.Contains(s, "/")
	}
	ok, _ := path.Match(g.pattern, s)
	return ok
}
