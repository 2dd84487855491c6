// Command packaging is the second half of `make release`: from the static
// binaries the Makefile built into DIST/linux-ARCH/auditfwd, it writes a
// tarball, a .deb and an .rpm per architecture and SHA256SUMS over all of
// them. It is its own module so that nfpm, which builds the packages, and
// nfpm's many dependencies stay out of the daemon's module graph.
//
// Every output is reproducible: file times are the commit's time
// (-epoch, SOURCE_DATE_EPOCH), owners are root, entries are sorted, and
// nothing depends on the build host.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.root, "root", "..", "the repository's root")
	flag.StringVar(&o.dist, "dist", "../dist", "where the binaries are and the artifacts go")
	flag.StringVar(&o.version, "version", "", "the release version, e.g. 0.1.0 (the VERSION file)")
	epoch := flag.Int64("epoch", -1, "the time stamped on every file, in seconds since 1970 (SOURCE_DATE_EPOCH: the commit's time)")
	arches := flag.String("arches", "amd64 arm64", "GOARCH values, space separated")
	flag.Parse()
	o.arches = strings.Fields(*arches)
	o.mtime = time.Unix(*epoch, 0).UTC()
	if o.version == "" || *epoch < 0 || len(o.arches) == 0 {
		fmt.Fprintln(os.Stderr, "packaging: -version, -epoch and -arches are required (make release sets them)")
		os.Exit(2)
	}
	artifacts, err := release(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "packaging: %v\n", err)
		os.Exit(1)
	}
	for _, a := range artifacts {
		fmt.Println(a)
	}
}
