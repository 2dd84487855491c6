package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// routed reads auditfwd_events_routed_total for one channel.
func routed(t *testing.T, m *metrics.Metrics, channel string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != "auditfwd_events_routed_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() == channel {
					return mt.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// goroutines returns the stacks of all goroutines.
func goroutines() string {
	buf := make([]byte, 4<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// The daemon runs one fsnotify watcher, shared by the tailer and the config
// watch, and through it both tails appended lines and reloads an edited
// config (the audit log and the config in one directory: one kernel watch
// held by both).
func TestSharedWatcherTailsAndReloads(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf(`audit_log:
  path: %s
state_dir: %s
slack:
  api_url: http://127.0.0.1:1/api/
metrics:
  listen: %s
admin:
  listen: %s
`, logPath, filepath.Join(dir, "state"), testenv.FreeAddr(t), testenv.FreeAddr(t))
	writeConfig := func(channels string) {
		// As editors save: a temp file renamed over the config.
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(base+channels), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(loginTo("sec"))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLACK_BOT_TOKEN", "")
	before := strings.Count(goroutines(), "fsnotify.(*inotify).readEvents")
	d, stop := runDaemon(t, cfg, Options{Version: "test"})
	defer func() {
		stop()
		if n := strings.Count(goroutines(), "fsnotify.(*inotify).readEvents"); n != before {
			t.Errorf("%d fsnotify reading goroutines after Run returned, %d before", n, before)
		}
	}()

	// Both users have subscribed once their goroutines run.
	testenv.Eventually(t, 20*time.Second, "the tailer and the config watch", func() bool {
		g := goroutines()
		return d.ready.Load() && strings.Contains(g, "configwatch.(*watcher).loop") && strings.Contains(g, "tailer.(*Tailer).watch.func")
	})
	if n := strings.Count(goroutines(), "fsnotify.(*inotify).readEvents") - before; n != 1 {
		t.Errorf("%d fsnotify reading goroutines, want 1 (one shared watcher)", n)
	}

	testenv.AppendFile(t, logPath, testenv.Event("login.complete", 1))
	testenv.Eventually(t, 20*time.Second, "login.complete routed to sec", func() bool { return routed(t, d.m, "sec") == 1 })

	stamp := gauge(t, d.m, reloadStamp)
	writeConfig(loginTo("ops"))
	testenv.Eventually(t, 20*time.Second, "the edited config reloaded", func() bool { return gauge(t, d.m, reloadStamp) != stamp })
	testenv.AppendFile(t, logPath, testenv.Event("login.complete", 2))
	testenv.Eventually(t, 20*time.Second, "login.complete routed to ops", func() bool { return routed(t, d.m, "ops") == 1 })
	if got := routed(t, d.m, "sec"); got != 1 {
		t.Errorf("sec routed %v after the reload, want 1", got)
	}
	if gauge(t, d.m, reloadOK) != 1 {
		t.Error("reload not successful")
	}
}
