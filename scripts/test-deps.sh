#!/usr/bin/env bash
# Installs, on Debian or Ubuntu, the programs the test suite runs besides Go:
# headless Chromium (the admin page tests), promtool (prometheus: the alert
# rules and a real Prometheus scraping the daemon), systemd-analyze (systemd:
# the unit's verify and security checks), python3 (the dashboard check),
# git (the pre-commit hook test and the upgrade test, which builds an older
# commit), rpm (rpm -qpl on the release's .rpm), file (the release's
# binaries are static) and postgresql (the Postgres source's tests run a
# throw-away server of their own, as the postgres user the package creates);
# dpkg, which installs the .deb, is Debian's own. Only what is missing is
# installed, with one `apt-get update` first, non-interactively; as root, or
# through sudo.
# `make test` runs it.
#
# Note: Debian's prometheus package starts a Prometheus server on install
# (prometheus.service, port 9090) where systemd runs. The tests start their
# own on free ports and need none: `systemctl disable --now prometheus`
# stops it. The same holds for Debian's postgresql package (a cluster on port
# 5432): `systemctl disable --now postgresql`.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have chromium || have chromium-browser || [ -n "${AUDITFWD_CHROMIUM:-}" ] || need+=(chromium)
have promtool || need+=(prometheus)
have systemd-analyze || need+=(systemd)
have python3 || need+=(python3)
have git || need+=(git)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || [ -n "${AUDITFWD_PG_BIN:-}" ] || need+=(postgresql)
have rpm || need+=(rpm)
have file || need+=(file)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi

if ! have apt-get; then
	echo "test-deps: missing ${need[*]}, and this is not a Debian system (no apt-get); install them yourself" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	if ! have sudo; then
		echo "test-deps: missing ${need[*]}; run as root or install sudo" >&2
		exit 1
	fi
	sudo=(sudo)
fi
echo "test-deps: installing ${need[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
for p in "${need[@]}"; do
	if [ "$p" = prometheus ]; then
		echo "test-deps: Debian's prometheus package starts a Prometheus server (port 9090); the tests do not need it: systemctl disable --now prometheus" >&2
	fi
	if [ "$p" = postgresql ]; then
		echo "test-deps: Debian's postgresql package starts a server (port 5432); the tests run their own and do not need it: systemctl disable --now postgresql" >&2
	fi
done
