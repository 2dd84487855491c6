# auditfwd. `make help` lists the targets.
GO      ?= go
# What every build stamps into the binary (auditfwd version,
# auditfwd_build_info): the release in VERSION, the commit ("-dirty" with
# uncommitted changes) and the commit's time as the build date, so that a
# rebuild of the same commit is identical. Outside git, set COMMIT and
# SOURCE_DATE_EPOCH (environment or command line); VERSION only on the
# command line (make VERSION=…), never from the environment.
VERSION := $(shell cat VERSION)
ifndef COMMIT
COMMIT := $(shell if c=$$(git rev-parse HEAD 2>/dev/null); then git diff --quiet HEAD || c=$$c-dirty; echo $$c; else echo unknown; fi)
endif
ifndef SOURCE_DATE_EPOCH
SOURCE_DATE_EPOCH := $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
endif
BUILD_DATE := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%dT%H:%M:%SZ)
BUILDINFO  := github.com/auditfwd/auditfwd/internal/buildinfo
LDFLAGS    := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(BUILD_DATE)
# make release: where the artifacts go, and for which architectures.
DIST   ?= dist
ARCHES ?= amd64 arm64

.PHONY: help build release test test-deps install check-ops local

help:
	@echo "make build      build bin/auditfwd"
	@echo "make release    static binaries, tarballs, .deb and .rpm for $(ARCHES), SHA256SUMS, in $(DIST)/"
	@echo "make test       the whole suite, as root: installs its tools on Debian if missing, go vet, packaging/'s tests (installs and purges the .deb), go test -race"
	@echo "make install    scripts/install.sh (as root, or with DESTDIR=dir)"
	@echo "make check-ops  check alerts, dashboard, systemd unit (scripts/check-ops.sh)"
	@echo "make local      auditfwd against the fake Slack on this machine (scripts/local-run.sh); Ctrl-C stops both"

# Static, like the releases: no libc pages in memory (BENCHMARKS.md).
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/auditfwd ./cmd/auditfwd

# Static binaries (no cgo, no build paths, no VCS stamp but ours), then
# packaging/ (its own module, with nfpm) writes a tarball, a .deb and an
# .rpm per architecture and SHA256SUMS. Reproducible: the same commit gives
# the same bytes (docs/operations.md, "Building a release").
release:
	@for arch in $(ARCHES); do \
		echo "build linux/$$arch"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -buildvcs=false -ldflags "$(LDFLAGS)" \
			-o "$(DIST)/linux-$$arch/auditfwd" ./cmd/auditfwd || exit 1; \
	done
	$(GO) -C packaging run . -root "$(CURDIR)" -dist "$(abspath $(DIST))" \
		-version "$(VERSION)" -epoch "$(SOURCE_DATE_EPOCH)" -arches "$(ARCHES)"

# The whole suite, on a fresh Debian machine too: test-deps installs
# chromium, prometheus (promtool), systemd (systemd-analyze), python3, git,
# rpm, file and postgresql with apt-get when missing (Debian's prometheus and
# postgresql packages also start servers; the tests need none). Then vet,
# packaging/'s tests (its own module: make release, and the .deb installed
# and purged on this machine) and the race-enabled tests.
test: test-deps
	$(GO) vet ./...
	$(GO) -C packaging vet ./...
	$(GO) -C packaging test -count=1 ./...
	$(GO) test -race -count=1 ./...

test-deps:
	@scripts/test-deps.sh

install:
	DESTDIR="$(DESTDIR)" LDFLAGS="$(LDFLAGS)" GO="$(GO)" scripts/install.sh

check-ops:
	scripts/check-ops.sh

# The README's local run: builds auditfwd and the fake Slack, runs both until
# Ctrl-C, and stops both however it ends.
local:
	scripts/local-run.sh

# End-to-end benchmark (BENCHMARKS.md): a table, then one JSON line. A quick
# run: make bench BENCH_FLAGS="-lines 200000 -runs 1 -latency-duration 5s -idle-duration 10s"
.PHONY: bench
bench:
	$(GO) run ./bench $(BENCH_FLAGS)
