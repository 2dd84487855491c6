package rules

import (
	"fmt"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
)

// hostileConfigs are configs within the size limits (4 MiB, aliases at most
// tenfold) built to make `check` slow: thousands of unknown patterns,
// patterns reused through aliases, star-heavy globs that the catalog's
// literal-prefix filter cannot rule out, one Slack channel shared by
// thousands of rules, and very long patterns.
func hostileConfigs() map[string]string {
	cfgs := map[string]string{}
	var b strings.Builder

	b.WriteString("channels:\n")
	n := 0
	for i := 0; b.Len() < 4<<20-100_000; i++ {
		fmt.Fprintf(&b, "  - name: c%d\n    slack_channel: \"#c%d\"\n    actions:\n", i, i%5)
		for range 1000 {
			fmt.Fprintf(&b, "      - \"zzunknown.action_number_%06d_*x\"\n", n)
			n++
		}
	}
	cfgs["unknown patterns"] = b.String()

	b.Reset()
	b.WriteString("channels:\n  - name: c0\n    slack_channel: \"#c0\"\n    actions: &p\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "      - \"zzunknown.action_number_%04d_*x\"\n", i)
	}
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  - name: c%d\n    slack_channel: \"#c%d\"\n    actions: *p\n", i, i%5)
	}
	cfgs["aliases ninefold"] = b.String()

	b.Reset()
	b.WriteString("channels:\n")
	n = 0
	for i := range 100 {
		fmt.Fprintf(&b, "  - name: c%d\n    slack_channel: \"#c%d\"\n    actions:\n", i, i)
		for range 1000 {
			fmt.Fprintf(&b, "      - \"*o*i*n*.*o*m*e*%06d\"\n", n)
			n++
		}
	}
	cfgs["star globs"] = b.String()

	b.Reset()
	b.WriteString("channels:\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "  - name: c%d\n    slack_channel: \"#same\"\n    actions:\n", i)
		for j := range 40 {
			fmt.Fprintf(&b, "      - \"login.x%d_%d\"\n      - \"login.x%d_%d*\"\n", i, j, i, j)
		}
	}
	cfgs["one Slack channel"] = b.String()

	long := strings.Repeat("*a", 700_000)
	cfgs["long patterns"] = fmt.Sprintf("channels:\n  - name: c\n    slack_channel: \"#c\"\n    actions: [%q, %q]\n    where:\n      status: [%q]\n",
		long, "login.complete"+strings.Repeat("x", 1_000_000), long)
	return cfgs
}

// BenchmarkCheckHostileConfig is what `auditfwd check` and a reload do with
// each hostile config: parse, compile, lint. Each must take well under a
// second (BENCHMARKS.md).
func BenchmarkCheckHostileConfig(b *testing.B) {
	for name, src := range hostileConfigs() {
		if len(src) > config.MaxFileBytes {
			b.Fatalf("%s: %d bytes, beyond the limit", name, len(src))
		}
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				cfg, err := config.Parse([]byte(src), "c.yaml")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Compile(cfg); err != nil {
					b.Fatal(err)
				}
				Lint(cfg)
			}
		})
	}
}
