package main

import (
	"runtime"
	"testing"

	"github.com/auditfwd/auditfwd/internal/buildinfo"
)

// An unstamped build (go test's) says so; `make release` stamps the rest
// (packaging/release_test.go checks a stamped binary's output and metric).
func TestVersionPrintsBuildInfo(t *testing.T) {
	t.Parallel()
	stdout, stderr, code := cli(t, "", "version")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	b := buildinfo.Get()
	want := "auditfwd " + b.Version + "\ncommit: " + b.Commit + "\nbuild date: " + b.Date +
		"\ngo version: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	if stdout != want {
		t.Errorf("auditfwd version:\n%s\nwant:\n%s", stdout, want)
	}
}
