package layout

import (
	"fmt"
	"strings"
	"text/template"
)

// funcs are the functions a title may call besides text/template's own
// (and, or, not, eq, len, printf, …). They take any value and work on its
// text, so that they apply alike to fields and to objects.
var funcs = template.FuncMap{
	// default "none" .x (or .x | default "none"): .x, or "none" when .x is empty.
	"default": func(def any, given ...any) string {
		for _, g := range given {
			if s := text(g); s != "" {
				return s
			}
		}
		return text(def)
	},
	"upper": func(v any) string { return strings.ToUpper(text(v)) },
	"lower": func(v any) string { return strings.ToLower(text(v)) },
	// trunc N .x: the first N characters of .x; with a negative N, the last -N.
	"trunc": func(n int, v any) string {
		r := []rune(text(v))
		switch {
		case n >= 0 && n < len(r):
			return string(r[:n])
		case n < 0 && -n < len(r):
			return string(r[len(r)+n:])
		}
		return string(r)
	},
}

// text is how a value prints in a template.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
