package sdnotify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Ready tells systemd that start-up (or a reload) has finished: READY=1.
// With Type=notify, systemd holds units ordered after auditfwd and reports
// "activating" until this is sent.
func Ready() error { return send(daemon.SdNotifyReady) }

// Reloading tells systemd that a configuration reload has started:
// RELOADING=1, with the MONOTONIC_USEC timestamp that systemd 253 and later
// require for Type=notify-reload (older versions ignore it). Call Ready when
// the reload is done, whether it succeeded or not.
func Reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return send(daemon.SdNotifyReloading)
	}
	usec := ts.Nano() / int64(time.Microsecond)
	return send(fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, usec))
}

// Stopping tells systemd that the daemon has begun shutting down: STOPPING=1.
func Stopping() error { return send(daemon.SdNotifyStopping) }

// Watchdog sends WATCHDOG=1 at half the interval systemd asks for
// (WatchdogSec=, passed as WATCHDOG_USEC) until ctx is done. Before each ping
// it calls healthy, when not nil; false skips that ping, so a wedged main
// loop stops the pings and systemd restarts the service. Watchdog returns at
// once when the watchdog is off: no WATCHDOG_USEC, a malformed one, or a
// WATCHDOG_PID that names another process. Run it in its own goroutine.
func Watchdog(ctx context.Context, healthy func() bool) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	period := interval / 2
	if period <= 0 {
		period = interval
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		if healthy == nil || healthy() {
			// A failed write is retried at the next tick; systemd only acts
			// when a whole interval passes without a ping.
			_ = send(daemon.SdNotifyWatchdog)
		}
	}
}

// send writes one notification; without NOTIFY_SOCKET it does nothing.
func send(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", firstLine(state), err)
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
