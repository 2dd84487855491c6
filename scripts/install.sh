#!/bin/sh
# Install auditfwd: binary, systemd unit, sysusers.d and tmpfiles.d entries,
# example config and docs. See docs/operations.md.
#
#   sudo scripts/install.sh                 # on the target host (needs go in root's PATH)
#   sudo BINARY=bin/auditfwd scripts/install.sh   # install a binary built by `make build`
#   DESTDIR=/tmp/stage scripts/install.sh   # stage into a directory, unprivileged
#   sudo scripts/install.sh                 # in an unpacked release tarball: its binary
#
# With DESTDIR set nothing outside DESTDIR is touched: no users are created,
# no ownership is changed and systemd is not told. Without it, the script
# must run as root and also applies sysusers/tmpfiles and reloads systemd; it
# never enables or starts the service.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
DESTDIR=${DESTDIR:-}
BINARY=${BINARY:-}
GO=${GO:-go}

say() { printf '%s\n' "$*"; }
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }

if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then
	die "run as root, or set DESTDIR to stage the files into a directory"
fi
case $DESTDIR in
"" | /*) ;;
*) DESTDIR=$(pwd)/$DESTDIR ;;
esac

bindir=$DESTDIR/usr/local/bin
unitdir=$DESTDIR/etc/systemd/system
sysusersdir=$DESTDIR/usr/lib/sysusers.d
tmpfilesdir=$DESTDIR/usr/lib/tmpfiles.d
confdir=$DESTDIR/etc/auditfwd
docdir=$DESTDIR/usr/local/share/doc/auditfwd

# A release tarball has the binary and no source: install that.
if [ -z "$BINARY" ] && [ ! -d "$root/cmd/auditfwd" ] && [ -x "$root/auditfwd" ]; then
	BINARY=$root/auditfwd
fi

# 1. The binary.
install -d -m 0755 "$bindir"
if [ -n "$BINARY" ]; then
	[ -x "$BINARY" ] || die "BINARY=$BINARY is not an executable file"
	install -m 0755 "$BINARY" "$bindir/auditfwd"
	say "installed $BINARY as $bindir/auditfwd"
else
	command -v "$GO" >/dev/null 2>&1 ||
		die "$GO not found: build with 'make build' as a user, then run: sudo BINARY=bin/auditfwd $0"
	# make install passes the Makefile's LDFLAGS (version, commit, build date).
	ldflags=${LDFLAGS:--X github.com/auditfwd/auditfwd/internal/buildinfo.version=$(cat "$root/VERSION")}
	tmp="$bindir/.auditfwd.new.$$"
	trap 'rm -f "$tmp"' EXIT
	(cd "$root" && "$GO" build -trimpath -ldflags "$ldflags" -o "$tmp" ./cmd/auditfwd)
	chmod 0755 "$tmp"
	mv -f "$tmp" "$bindir/auditfwd" # atomic: a running daemon keeps its old inode
	trap - EXIT
	say "built $("$bindir/auditfwd" version | head -n 1) into $bindir/auditfwd"
fi

# 2. systemd unit, user and directories.
install -d -m 0755 "$unitdir" "$sysusersdir" "$tmpfilesdir"
install -m 0644 "$root/systemd/auditfwd.service" "$unitdir/auditfwd.service"
install -m 0644 "$root/systemd/auditfwd.sysusers" "$sysusersdir/auditfwd.conf"
install -m 0644 "$root/systemd/auditfwd.tmpfiles" "$tmpfilesdir/auditfwd.conf"
say "installed $unitdir/auditfwd.service, $sysusersdir/auditfwd.conf, $tmpfilesdir/auditfwd.conf"

if [ -z "$DESTDIR" ]; then
	# Creates the auditfwd user and group (needed for the config's group below).
	if command -v systemd-sysusers >/dev/null 2>&1; then
		systemd-sysusers auditfwd.conf
	else
		say "warning: systemd-sysusers not found; create the auditfwd user yourself" >&2
	fi
	if command -v systemd-tmpfiles >/dev/null 2>&1; then
		systemd-tmpfiles --create auditfwd.conf
	fi
fi

# 3. Configuration: never overwrite an existing file.
install -d -m 0755 "$confdir"
install -d -m 0700 "$confdir/credentials"
if [ -e "$confdir/config.yaml" ]; then
	say "kept existing $confdir/config.yaml (compare with $root/configs/example.yaml)"
else
	install -m 0640 "$root/configs/example.yaml" "$confdir/config.yaml"
	if [ "$(id -u)" -eq 0 ] && getent group auditfwd >/dev/null 2>&1; then
		chown root:auditfwd "$confdir/config.yaml"
	else
		say "note: $confdir/config.yaml must be owned by root:auditfwd (mode 0640) on the target host"
	fi
	say "installed $confdir/config.yaml from configs/example.yaml"
fi

# 4. Docs, all of them (the unit's Documentation= and the next steps point here).
install -d -m 0755 "$docdir"
for doc in "$root"/README.md "$root"/docs/*.md; do
	install -m 0644 "$doc" "$docdir/$(basename "$doc")"
done
say "installed the docs into $docdir"

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload
fi

cat <<NEXT

Next steps (the details are in $docdir/: operations.md, slack-setup.md, rules.md):
  1. Secrets, one per file, root only: the client secret typed (not left in
     shell history), the admin password generated and printed once (keep it
     in your password manager):
       systemd-ask-password -n "Slack client secret:" |
         install -m 0600 /dev/stdin /etc/auditfwd/credentials/slack-client-secret
       openssl rand -base64 24 | tee /dev/stderr |
         install -m 0600 /dev/stdin /etc/auditfwd/credentials/admin-password
     Both files must exist, or systemd refuses to start the service.
  2. Edit /etc/auditfwd/config.yaml: slack.client_id, admin.public_url,
     admin.trusted_proxies, channels; check it with (no warnings left):
       auditfwd check --config /etc/auditfwd/config.yaml
  3. Let auditfwd read the gateway's log: the log and its directory must be
     group-readable by rack-gateway (e.g. chgrp -R rack-gateway /var/log/rack-gateway
     && chmod 0750 /var/log/rack-gateway && chmod 0640 /var/log/rack-gateway/audit.log),
     or change SupplementaryGroups= with 'systemctl edit auditfwd'.
  4. systemctl enable --now auditfwd && systemctl status auditfwd
  5. Open admin.public_url, log in as admin, click "Connect to Slack".
  6. Point Prometheus at 127.0.0.1:9464 (configs/prometheus/scrape.yaml), load
     configs/prometheus/alerts.yaml, import configs/grafana/auditfwd.json.
NEXT
