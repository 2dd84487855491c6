# auditfwd. `make help` lists the targets.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)

.PHONY: help build test test-deps install check-ops local

help:
	@echo "make build      build bin/auditfwd"
	@echo "make test       the whole suite: installs its tools on Debian if missing, then go vet and go test -race"
	@echo "make install    scripts/install.sh (as root, or with DESTDIR=dir)"
	@echo "make check-ops  check alerts, dashboard, systemd unit (scripts/check-ops.sh)"
	@echo "make local      auditfwd against the fake Slack on this machine (scripts/local-run.sh); Ctrl-C stops both"

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/auditfwd ./cmd/auditfwd

# The whole suite, on a fresh Debian machine too: test-deps installs
# chromium, prometheus (promtool), systemd (systemd-analyze), python3 and git
# with apt-get when missing (Debian's prometheus package also starts a
# server; the tests need none). Then vet and the race-enabled tests.
test: test-deps
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

test-deps:
	@scripts/test-deps.sh

install:
	DESTDIR="$(DESTDIR)" VERSION="$(VERSION)" GO="$(GO)" scripts/install.sh

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
