package termtext

import "testing"

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, special, want string }{
		{"login.complete", " ", "login.complete"},
		{"#security", " ", "#security"},
		{"a b", " ", `"a b"`},
		{"a,b", ",", `"a,b"`},
		{"x\x1b]8;;http://evil\x07y", "", `"x\x1b]8;;http://evil\ay"`},
		{"\x9b31m", "", `"\x9b31m"`},
		{"\u009b31m", "", `"\u009b31m"`},
		{"admin\u202egnp", "", `"admin\u202egnp"`},
		{"a\nb", "", `"a\nb"`},
		{"zero\u200bwidth", "", `"zero\u200bwidth"`},
		{`"quoted"`, "", `"\"quoted\""`},
		{"café", "", "café"},
	} {
		if got := Quote(tc.in, tc.special); got != tc.want {
			t.Errorf("Quote(%q, %q) = %s, want %s", tc.in, tc.special, got, tc.want)
		}
	}
}
