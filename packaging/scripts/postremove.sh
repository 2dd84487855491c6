#!/bin/sh
# auditfwd package, after its files are removed (deb postrm; rpm %postun).
# remove keeps /etc/auditfwd (config, credentials) and /var/lib/auditfwd
# (queued events, checkpoint, Slack token, dead letters); purge (deb only)
# deletes them, the service's enablement and its drop-ins. The auditfwd
# user stays, as Debian and systemd-sysusers keep system users: files it
# owned elsewhere must not fall to a reused uid. rpm has no purge: after
# `rpm -e auditfwd`, delete the same directories by hand (docs/operations.md).
# deb: $1 is remove, purge, upgrade, failed-upgrade, abort-*, disappear;
# rpm: $1 is 0 on an erase, 1 or more on an upgrade.
set -e

case $1 in
purge)
	rm -rf /etc/auditfwd /var/lib/auditfwd
	rm -rf /etc/systemd/system/auditfwd.service.d
	rm -f /etc/systemd/system/*.wants/auditfwd.service
	;;
esac

case $1 in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	;;
esac
