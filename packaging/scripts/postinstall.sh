#!/bin/sh
# auditfwd package, after its files are in place (deb postinst; rpm %post).
# Creates /etc/auditfwd/credentials (tmpfiles.d entry) and tells systemd
# about the unit. It never enables, starts or restarts the service: it
# cannot run before it is configured (docs/operations.md).
# deb: $1 is configure (or abort-*), $2 the version replaced, empty on a
# first install; rpm: $1 is 1 on a first install, 2 or more on an upgrade.
set -e

case $1 in
configure) [ -z "$2" ] && first=yes || first=no ;;
1) first=yes ;;
[0-9]*) first=no ;;
*) exit 0 ;;
esac

if command -v systemd-tmpfiles >/dev/null 2>&1; then
	systemd-tmpfiles --create auditfwd.conf
else
	install -d -m 0700 -o root -g root /etc/auditfwd/credentials
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ $first = no ] && systemctl is-active --quiet auditfwd.service; then
		echo "auditfwd: the running service is still the old version; restart it when convenient: systemctl restart auditfwd" >&2
	fi
fi

if [ $first = yes ]; then
	cat <<'NEXT'
auditfwd is installed but not enabled or started. Next steps, in detail in
/usr/share/doc/auditfwd/operations.md:
  1. Put the Slack client secret and an admin password into
     /etc/auditfwd/credentials/slack-client-secret and .../admin-password (0600).
  2. Edit /etc/auditfwd/config.yaml, then: auditfwd check --config /etc/auditfwd/config.yaml
  3. Let the auditfwd user read the gateway's log (group rack-gateway).
  4. systemctl enable --now auditfwd, open admin.public_url, Connect to Slack.
NEXT
fi
