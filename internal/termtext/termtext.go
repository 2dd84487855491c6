// Package termtext prints text that came from outside auditfwd (an audit
// log, Slack's API) on a terminal as data: a value holding an escape
// sequence, a bidi control or a newline is shown quoted and escaped, so it
// can neither drive the terminal nor pass for another line of output. It
// knows nothing about where the text came from.
package termtext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote returns s as it is when every rune of it is printable (the ASCII
// space included) and it holds none of the runes in special (the
// separators of the caller's output, e.g. " " or ","); otherwise it returns
// s quoted with Go's escapes (invalid UTF-8 too, whose bytes a terminal
// could read as C1 controls) (strconv.Quote: "\x1b]8;…", "\u202e").
func Quote(s, special string) string {
	if strings.ContainsAny(s, special) || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 ||
		!utf8.ValidString(s) || strings.HasPrefix(s, `"`) {
		return strconv.Quote(s)
	}
	return s
}
