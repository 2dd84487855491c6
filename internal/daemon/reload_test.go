package daemon

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/rules"
)

const (
	reloadStamp = "auditfwd_config_last_reload_success_timestamp_seconds"
	reloadOK    = "auditfwd_config_last_reload_successful"
)

// loginTo returns a channels block sending login.* to ch (sec or ops) and
// release.* to the other one.
func loginTo(ch string) string {
	other := map[string]string{"sec": "ops", "ops": "sec"}[ch]
	pat := map[string]string{ch: "login.*", other: "release.*"}
	return fmt.Sprintf(`channels:
  - name: sec
    slack_channel: "#security"
    actions: [%q]
  - name: ops
    slack_channel: "#ops"
    actions: [%q]
`, pat["sec"], pat["ops"])
}

// gauge reads an unlabelled gauge from m's registry.
func gauge(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}

// The reloader in-process: restart-only keys are compared with the config
// the process started with, and unchanged content is no reload.
func TestReloadRestartKeysAndUnchangedContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	base := "metrics:\n  listen: 127.0.0.1:9464\n"
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(base + loginTo("sec"))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	m := metrics.New("test")
	applied := 0
	r := newReloader(cfg, slog.New(slog.NewTextHandler(&logs, nil)), m, func(*config.Config, *rules.Rules) error {
		applied++
		return nil
	})
	defer signal.Stop(r.hup) // newReloader subscribed; watch would unsubscribe
	stamp := gauge(t, m, reloadStamp)
	if err := r.reload("file changed"); err != nil || gauge(t, m, reloadStamp) != stamp {
		t.Fatalf("unchanged content reloaded: err %v", err)
	}
	if err := r.reload(triggerSIGHUP); err != nil || gauge(t, m, reloadStamp) == stamp || applied != 1 {
		t.Fatalf("SIGHUP did not reload: err %v, applied %d", err, applied)
	}
	write(strings.Replace(base, "9464", "9465", 1) + loginTo("sec"))
	if err := r.reload("file changed"); err != nil {
		t.Fatal(err)
	}
	// Every valid reload is applied, whatever changed.
	if !strings.Contains(logs.String(), "keys=metrics.listen") || applied != 2 {
		t.Fatalf("restart key change: applied %d, log:\n%s", applied, logs.String())
	}
	logs.Reset()
	write(base + loginTo("ops")) // back to the running value
	if err := r.reload("file changed"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "restart") || applied != 3 {
		t.Fatalf("back to the start-up value: applied %d, log:\n%s", applied, logs.String())
	}
	// Empty and comment-only files are refused; the same bad content is
	// reported once; a file that disappears and comes back is reloaded.
	for _, bad := range []string{"", "\n  \n", "# all commented out\n# channels: []\n---\n"} {
		write(bad)
		if err := r.reload("file changed"); err == nil || gauge(t, m, reloadOK) != 0 {
			t.Fatalf("%q accepted", bad)
		}
	}
	logs.Reset()
	if err := r.reload("file changed"); err != nil || logs.Len() > 0 {
		t.Fatalf("the same bad content reported again: %v %s", err, logs.String())
	}
	write(base + loginTo("ops"))
	if err := r.reload("file changed"); err != nil || gauge(t, m, reloadOK) != 1 {
		t.Fatalf("good content after a bad one: %v", err)
	}
	os.Remove(path)
	if err := r.reload("file changed"); err == nil {
		t.Fatal("a missing file reloaded")
	}
	write(base + loginTo("ops"))
	if err := r.reload("file changed"); err != nil || gauge(t, m, reloadOK) != 1 {
		t.Fatalf("the file came back unchanged: %v, successful %v", err, gauge(t, m, reloadOK))
	}
}
