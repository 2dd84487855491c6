// Package sdnotify tells systemd how the daemon is doing over the sd_notify
// protocol (Type=notify units, see systemd/auditfwd.service): readiness,
// reloads, shutdown and watchdog keep-alives.
//
// It knows the notify socket and the watchdog interval systemd hands over in
// NOTIFY_SOCKET and WATCHDOG_USEC/WATCHDOG_PID; it knows nothing about logs,
// Slack or configuration. Outside systemd (no NOTIFY_SOCKET) every call is a
// no-op that returns nil, so callers need no special case for tests or for
// running in a terminal.
package sdnotify
