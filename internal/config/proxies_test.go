package config

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestTrustedProxies(t *testing.T) {
	cfg := mustParse(t, "admin:\n  trusted_proxies: [127.0.0.1/32, \"10.1.2.3/8\", \"::1\", 192.0.2.7]\n")
	want := []netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("192.0.2.7/32"),
	}
	if !slices.Equal(cfg.Admin.TrustedProxies, want) {
		t.Errorf("trusted_proxies = %v, want %v", cfg.Admin.TrustedProxies, want)
	}
	if got := mustParse(t, "admin:\n  trusted_proxies: []\n").Admin.TrustedProxies; len(got) != 0 {
		t.Errorf("empty list: %v", got)
	}
	if keys := mustParse(t, "").ChangedKeys(cfg); !slices.Equal(keys, []string{"admin.trusted_proxies"}) {
		t.Errorf("ChangedKeys = %v, want [admin.trusted_proxies]", keys)
	}

	_, err := Parse([]byte("admin:\n  trusted_proxies:\n    - 127.0.0.1/32\n    - proxy.local\n    - 10.0.0.0/33\n"), "c.yaml")
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("want two errors, got %v", err)
	}
	if es[0].Line != 4 || !strings.Contains(es[0].Msg, `"proxy.local" is not a CIDR`) || es[1].Line != 5 {
		t.Errorf("errors: %v", err)
	}
	if _, err := Parse([]byte("admin:\n  trusted_proxies: 127.0.0.1/32\n"), "c.yaml"); err == nil || !strings.Contains(err.Error(), "c.yaml:2: admin.trusted_proxies must be a list") {
		t.Errorf("a scalar: %v", err)
	}
	if _, err := Parse([]byte("admin:\n  trusted_proxy: [127.0.0.1/32]\n"), "c.yaml"); err == nil || !strings.Contains(err.Error(), `did you mean "trusted_proxies"?`) {
		t.Errorf("a misspelt key: %v", err)
	}
}
