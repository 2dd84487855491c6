package slack

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Value renders one untrusted value (from an audit event, a template's
// field) for Slack mrkdwn, so that it shows as the data it is and can
// disguise itself as nothing else (docs/messages.md, "No value can disguise
// itself"):
//
//   - newlines and tabs become spaces, and every run of white space (Unicode
//     spaces included) is one space, so a value can neither start a line of
//     its own nor push text onto one by wrapping a long gap;
//   - other control characters (C0, C1 with U+0085), format characters
//     (bidi controls U+202A–U+202E, U+2066–U+2069, U+200E/F; zero-width
//     U+200B–U+200D, U+2060, U+FEFF; soft hyphen; tags) and blank fillers
//     are shown as visible \uXXXX escapes;
//   - &, < and > are escaped, so it can make no mention, channel link or
//     link;
//   - *, _, ~ and ` cannot format: ~ and ` always, and * and _ unless
//     between two letters or digits (where Slack never formats: john_doe),
//     become look-alikes that Slack does not parse (∗ ˍ ∼ ˋ); a leading >
//     (a quote) becomes ˃.
//
// Blocks that carry values are sent with verbatim set, so Slack does not
// turn a bare URL in a value into a link either.
func Value(s string) string {
	if plainValue(s) {
		return s // the common case: nothing to do
	}
	return rewrite(s)
}

// rewrite is Value's full path.
func rewrite(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	prev := rune(-1) // the rune before, as written; -1 at the start
	space := false   // the last rune written was a space
	for i, r := range s {
		_, size := utf8.DecodeRuneInString(s[i:]) // 1 for an invalid byte, whose r is U+FFFD
		next, _ := utf8.DecodeRuneInString(s[i+size:])
		if i+size >= len(s) {
			next = -1
		}
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == 0x2028 || r == 0x2029 || (unicode.IsSpace(r) && !unicode.IsControl(r)):
			if !space {
				b.WriteByte(' ')
				space = true
			}
			prev = r
			continue
		case hidden(r):
			if r > 0xFFFF {
				fmt.Fprintf(&b, `\U%08x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case (r == '>' || r == '＞') && b.Len() == 0:
			b.WriteRune('˃') // Slack quotes a line that starts with either
		case r == '>':
			b.WriteString("&gt;")
		case r == '~':
			b.WriteRune('∼')
		case r == '`':
			b.WriteRune('ˋ')
		case (r == '*' || r == '_') && !(wordRune(prev) && wordRune(next)):
			if r == '*' {
				b.WriteRune('∗')
			} else {
				b.WriteRune('ˍ')
			}
		default:
			b.WriteRune(r)
		}
		space = false
		prev = r
	}
	return b.String()
}

// plainValue reports whether Value would return s unchanged.
func plainValue(s string) bool {
	prevSpace := true // a leading space is kept; two in a row are not
	for i := 0; i < len(s); i++ {
		switch plainClass[s[i]] {
		case plainKeep:
		case plainUnderscore:
			if i == 0 || i == len(s)-1 || !wordByte(s[i-1]) || !wordByte(s[i+1]) {
				return false
			}
		case plainSpace:
			if prevSpace && i > 0 {
				return false
			}
			prevSpace = true
			continue
		default:
			return false
		}
		prevSpace = false
	}
	return true
}

// What plainValue makes of each byte: most are kept as they are; non-ASCII
// bytes are left to the full path.
const (
	plainKeep = iota
	plainChange
	plainUnderscore // kept between two letters or digits
	plainSpace      // kept unless it follows a space
)

var plainClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case c >= 0x80, c < 0x20 || c == 0x7f, c == '&', c == '<', c == '>', c == '~', c == '`', c == '*':
			t[c] = plainChange
		case c == '_':
			t[c] = plainUnderscore
		case c == ' ':
			t[c] = plainSpace
		}
	}
	return t
}()

// hidden reports whether r would be invisible or act on the text around it:
// control characters, format characters (bidi, zero-width, soft hyphen,
// tags) and the blank "filler" letters that render as nothing.
func hidden(r rune) bool {
	switch {
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r):
		return true
	case r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, r == 0x034F, r == 0x2800:
		return true
	}
	return false
}

func wordRune(r rune) bool { return r >= 0 && (unicode.IsLetter(r) || unicode.IsDigit(r)) }

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
