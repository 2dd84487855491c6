#!/bin/sh
# auditfwd package, before its files are removed (deb prerm; rpm %preun).
# On removal (not on an upgrade) the service is stopped, so that no daemon
# runs from a deleted binary. Its state stays (postremove).
# deb: $1 is remove, upgrade, deconfigure or failed-upgrade; rpm: $1 is 0
# on an erase, 1 or more on an upgrade.
set -e

case $1 in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl stop auditfwd.service || true
	fi
	;;
esac
