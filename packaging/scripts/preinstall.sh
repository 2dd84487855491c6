#!/bin/sh
# auditfwd package, before its files are unpacked (deb preinst; rpm %pre).
# Creates the auditfwd system user and group and its membership in the
# group that reads the gateway's log, so that /etc/auditfwd/config.yaml
# unpacks as root:auditfwd. The entries are systemd/auditfwd.sysusers,
# embedded by `make release` (the file itself is not unpacked yet).
# deb: $1 is install, upgrade or abort-upgrade; rpm: $1 is a count.
set -e

[ "$1" = abort-upgrade ] && exit 0

sysusers() {
	cat <<'SYSUSERS'
@SYSUSERS@
SYSUSERS
}

if command -v systemd-sysusers >/dev/null 2>&1; then
	sysusers | systemd-sysusers --replace=/usr/lib/sysusers.d/auditfwd.conf -
	exit 0
fi

# No systemd-sysusers: the same entries with shadow's tools (the u and m
# lines auditfwd.sysusers uses).
nologin=/usr/sbin/nologin
[ -x "$nologin" ] || nologin=/sbin/nologin
sysusers | while read -r line; do
	case $line in '' | '#'*) continue ;; esac
	eval "set -- $line"
	case $1 in
	u)
		getent group "$2" >/dev/null || groupadd --system "$2"
		getent passwd "$2" >/dev/null ||
			useradd --system --gid "$2" --comment "$4" --home-dir "$5" --no-create-home --shell "$nologin" "$2"
		;;
	m)
		getent group "$3" >/dev/null || groupadd --system "$3"
		id -nG "$2" | tr ' ' '\n' | grep -qx "$3" || usermod --append --groups "$3" "$2"
		;;
	*)
		echo "auditfwd: cannot apply this sysusers.d line without systemd-sysusers: $line" >&2
		exit 1
		;;
	esac
done
