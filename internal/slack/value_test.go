package slack

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/auditfwd/auditfwd/internal/event"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice@example.com", "alice@example.com"},
		{"john_doe@example.com", "john_doe@example.com"}, // _ between letters never formats
		{"deploy_approval_request.approved", "deploy_approval_request.approved"},
		{"a b", "a b"},
		// Lines and gaps.
		{"a\nb\r\nc\td", "a b c d"},
		{"a\u2028b\u2029c", "a b c"},
		{"x" + strings.Repeat(" ", 300) + "Status: success", "x Status: success"},
		{"a\u00a0\u00a0\u3000\u2003b", "a b"},
		// Control, format, bidi and zero-width characters: visible escapes.
		{"a\x00b\x1bc\x7fd", `a\u0000b\u001bc\u007fd`},
		{"a\u0085b\u0090c", `a\u0085b\u0090c`},
		{"a\vb\fc", `a\u000bb\u000cc`},
		{"admin\u202egnp.exe", `admin\u202egnp.exe`},
		{"\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f", `\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f`},
		{"ad\u200bmin\u200c\u200d\u2060\ufeff", `ad\u200bmin\u200c\u200d\u2060\ufeff`},
		{"soft\u00adhyphen\u3164", `soft\u00adhyphen\u3164`},
		{"tag\U000E0041", `tag\U000e0041`},
		// Mentions, links.
		{"<!channel> & <http://evil.example|bank>", "&lt;!channel&gt; &amp; &lt;http://evil.example|bank&gt;"},
		// Formatting.
		{"*bold* _it_ ~strike~ `code` ```block```", "∗bold∗ ˍitˍ ∼strike∼ ˋcodeˋ ˋˋˋblockˋˋˋ"},
		{"a*b*c", "a*b*c"},
		{"x *y*", "x ∗y∗"},
		{"__init__", "ˍˍinitˍˍ"},
		{"> quoted", "˃ quoted"},
		{"＞ quoted", "˃ quoted"},
		{"a > b", "a &gt; b"},
		{"a ＞ b", "a ＞ b"},
		{"", ""},
	} {
		if got := Value(tc.in); got != tc.want {
			t.Errorf("Value(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// No rune that Slack or a reader could take for something else survives
// Value: a sweep over the Basic Multilingual Plane and the tag block.
func TestValueLeavesNoHiddenRune(t *testing.T) {
	for r := rune(0); r <= 0xFFFF || (r >= 0xE0000 && r <= 0xE007F); r++ {
		if r == 0x10000 {
			r = 0xE0000
		}
		if r >= 0xD800 && r <= 0xDFFF {
			continue // surrogates are not runes
		}
		s := "a" + string(r) + "b"
		got := Value(s)
		for _, g := range got {
			if unicode.Is(unicode.Cc, g) || unicode.Is(unicode.Cf, g) || (unicode.IsSpace(g) && g != ' ') || g == 0x3164 {
				t.Fatalf("Value(%q) = %q keeps %U", s, got, g)
			}
		}
		if strings.ContainsAny(got, "<>*~`") && r != '*' {
			t.Fatalf("Value(%q) = %q keeps a character Slack parses", s, got)
		}
	}
}

// Every value in a message goes through Value: in the blocks and in the
// fallback text, in single messages, alerts and digests.
func TestPackRendersEveryValueAsData(t *testing.T) {
	hostile := "*Status:* _success_ ~x~ `y` \u202eevil\u200b" + strings.Repeat(" ", 200) + "Status: success"
	e := ev("login.complete", "user_email", hostile, "status", "failed", "resource", hostile, "details", hostile, hostile, "v")
	e.Time = time.Unix(1_700_000_000, 0)
	for name, events := range map[string][]event.Event{"single": {e}, "digest": {e, e}} {
		m, _ := Pack(events, false)
		for _, s := range append(texts(t, m), m.Text) {
			for _, bad := range []string{"\u202e", "\u200b", "*Status:* _success_", "`y`", "~x~", "  "} {
				if strings.Contains(s, bad) {
					t.Errorf("%s: %q survived in %q", name, bad, s)
				}
			}
			for _, line := range strings.Split(s, "\n") {
				if strings.HasPrefix(line, "Status: success") || strings.HasPrefix(line, "*Status:* success") {
					t.Errorf("%s: a value starts a line of its own: %q", name, line)
				}
			}
		}
		// Slack links no bare URL in a value: every mrkdwn object is verbatim.
		data, err := json.Marshal(m.Blocks)
		if err != nil {
			t.Fatal(err)
		}
		if n, v := strings.Count(string(data), `"type":"mrkdwn"`), strings.Count(string(data), `"verbatim":true`); n == 0 || n != v {
			t.Errorf("%s: %d mrkdwn objects, %d verbatim", name, n, v)
		}
	}
}

// Value's shortcut keeps only what its full path would keep, and the
// length Slack counts is UTF-16's: a sweep of random values over the bytes
// either treats specially.
func TestPlainValueAndUnitsAgreeWithTheSlowPaths(t *testing.T) {
	alphabet := []string{"a", "Z", "7", "_", "*", " ", "  ", "\t", "\n", "&", "<", ">", "~", "`", "\x7f", "\x01", "é", "🚀", "\u200b", "\xff", "\xf0\x9f", ".", "-"}
	rng := rand.New(rand.NewPCG(3, 4))
	plain := 0
	for i := range 200000 {
		var b strings.Builder
		for range rng.IntN(8) {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		if plainValue(s) {
			plain++
			if got := rewrite(s); got != s {
				t.Fatalf("value %d %q: plainValue says unchanged, the full path gives %q", i, s, got)
			}
		}
		if got, want := units(s), len(utf16.Encode([]rune(s))); got != want {
			t.Fatalf("units(%q) = %d, want %d", s, got, want)
		}
	}
	if plain < 1000 {
		t.Fatalf("only %d plain values: the sweep tests little", plain)
	}
}

// A value that ends in invalid UTF-8 is rendered (each bad byte as U+FFFD),
// not a panic: the byte is one wide, not as wide as U+FFFD.
func TestValueOfInvalidUTF8AtTheEnd(t *testing.T) {
	for _, s := range []string{"ab\xff", "\xff", "a_\xfe", "é\xc3", "*\xff*"} {
		got := Value(s)
		if !utf8.ValidString(got) || !strings.Contains(got, "\ufffd") {
			t.Errorf("Value(%q) = %q", s, got)
		}
	}
}
