package suggest

import "testing"

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"login", "login", 0}, {"lgoin", "login", 1}, {"logn", "login", 1},
		{"loggin", "login", 1}, {"lojin", "login", 1}, {"", "abc", 3}, {"audit_lgo", "audit_log", 1},
		{"kitten", "sitting", 3}, {"é", "e", 1},
	} {
		if got := Distance(c.a, c.b); got != c.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}
