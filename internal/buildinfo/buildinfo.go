// Package buildinfo says which build of auditfwd is running: the version,
// commit and build date that `make build` and `make release` stamp into the
// binary (-ldflags -X), and the Go version it was built with. Nothing here
// changes while the program runs.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by the linker (the Makefile's LDFLAGS); empty in a plain `go build`.
var (
	version string
	commit  string
	date    string // RFC 3339, UTC: the commit's time, so a rebuild is identical
)

// Info describes one build.
type Info struct {
	Version   string // e.g. 0.1.0; "dev" when not stamped
	Commit    string // the full commit hash, "-dirty" appended for uncommitted changes; "unknown" when not stamped
	Date      string // build date (RFC 3339, UTC); "unknown" when not stamped
	GoVersion string // runtime.Version()
	Platform  string // GOOS/GOARCH
}

// Get returns this binary's build information. What the linker did not
// stamp is taken from the Go toolchain's own build info when it recorded
// any (`go build` in a git checkout records the commit and its time).
func Get() Info {
	return fill(Info{
		Version: version, Commit: commit, Date: date,
		GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
	}, readBuildInfo())
}

func readBuildInfo() *debug.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return bi
}

// fill completes i from the toolchain's build info bi (nil: none).
func fill(i Info, bi *debug.BuildInfo) Info {
	if bi != nil {
		vcs := map[string]string{}
		for _, s := range bi.Settings {
			vcs[s.Key] = s.Value
		}
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version // go install …@v1.2.3
		}
		if i.Commit == "" && vcs["vcs.revision"] != "" {
			i.Commit = vcs["vcs.revision"]
			if vcs["vcs.modified"] == "true" {
				i.Commit += "-dirty"
			}
		}
		if i.Date == "" {
			i.Date = vcs["vcs.time"]
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}

// String is what `auditfwd version` prints: the version on the first line
// (as before, for scripts that read it), then one "key: value" per line.
func (i Info) String() string {
	return fmt.Sprintf("auditfwd %s\ncommit: %s\nbuild date: %s\ngo version: %s %s\n",
		i.Version, i.Commit, i.Date, i.GoVersion, i.Platform)
}
