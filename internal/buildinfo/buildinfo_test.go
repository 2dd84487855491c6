package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFill(t *testing.T) {
	vcs := &debug.BuildInfo{
		Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"},
			{Key: "vcs.time", Value: "2026-03-20T01:13:02Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name string
		in   Info
		bi   *debug.BuildInfo
		want Info
	}{
		{"stamped wins over the toolchain's",
			Info{Version: "0.1.0", Commit: "fff", Date: "2026-01-02T03:04:05Z"}, vcs,
			Info{Version: "0.1.0", Commit: "fff", Date: "2026-01-02T03:04:05Z"}},
		{"unstamped: the toolchain's vcs stamp, dirty marked", Info{}, vcs,
			Info{Version: "dev", Commit: "abc123-dirty", Date: "2026-03-20T01:13:02Z"}},
		{"go install of a tagged module", Info{}, &debug.BuildInfo{Main: debug.Module{Version: "v0.2.0"}},
			Info{Version: "v0.2.0", Commit: "unknown", Date: "unknown"}},
		{"nothing known", Info{}, nil, Info{Version: "dev", Commit: "unknown", Date: "unknown"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fill(tc.in, tc.bi); got != tc.want {
				t.Errorf("fill = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestStringFirstLineIsTheVersion(t *testing.T) {
	s := Info{Version: "0.1.0", Commit: "c", Date: "d", GoVersion: "go1.26.8", Platform: "linux/arm64"}.String()
	want := "auditfwd 0.1.0\ncommit: c\nbuild date: d\ngo version: go1.26.8 linux/arm64\n"
	if s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	if !strings.HasPrefix(Get().String(), "auditfwd ") {
		t.Errorf("Get().String() = %q", Get().String())
	}
}
