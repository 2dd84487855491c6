package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// aliasBomb is the probe's shape: an 80 KB config whose channels share one
// list of 2,000 patterns through aliases, forty times over. It is valid
// YAML and valid rules; expanded, it holds 80,000 patterns.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("channels:\n  - name: sec\n    slack_channel: \"#security\"\n    actions: &p\n      - login.complete\n")
	for i := range 2000 {
		fmt.Fprintf(&b, "      - \"zzunknown.action_number_%04d_*x\"\n", i)
	}
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "  - name: c%d\n    slack_channel: \"#c%d\"\n    actions: *p\n", i, i)
	}
	return b.String()
}

// The alias bomb is refused by `check` with an error that says why, in well
// under a second (bounded generously here, for a loaded CI machine; the
// benchmark BenchmarkCheckHostileConfig measures configs within the limits).
func TestAliasBombIsRefusedByCheckAtOnce(t *testing.T) {
	t.Parallel()
	bomb := aliasBomb()
	path := configFile(t, bomb)
	bin := testenv.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin, "check", "--rules-only", "--config", path).CombinedOutput()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("check of the %d-byte alias bomb did not finish in 30 s", len(bomb))
	}
	t.Logf("check of the %d-byte alias bomb: %v, %s", len(bomb), took, out)
	if err == nil || !strings.Contains(string(out), "YAML aliases expand this configuration to more than 10 times") {
		t.Errorf("check accepted the alias bomb or did not say why (err %v):\n%s", err, out)
	}
	if took > 3*time.Second {
		t.Errorf("check took %v, want well under a second", took)
	}
}

// A reload to the alias bomb keeps the last good rules, and /healthz
// answers all along.
func TestReloadToAnAliasBombKeepsTheLastGoodRules(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	d.Append(testenv.Event("login.complete", 1))
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)

	var healthy, unhealthy atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			resp, err := client.Get("http://" + d.Metrics + "/healthz")
			if err == nil && resp.StatusCode == 200 {
				healthy.Add(1)
			} else {
				unhealthy.Add(1)
			}
			if err == nil {
				resp.Body.Close()
			}
		}
	}()

	base := d.MustMetric(reloadStamp)
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	d.WriteConfig(string(cfg) + aliasBomb())
	d.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 10*time.Second, "the reload to the alias bomb refused", func() bool {
		v, ok := d.Metric(reloadOK)
		return ok && v == 0
	})
	d.WaitOutput("YAML aliases expand this configuration") // the refused reload says why
	if v := d.MustMetric(reloadStamp); v != base {
		t.Errorf("last successful reload moved from %v to %v", base, v)
	}
	// The last good rules (the defaults) still route.
	d.Append(testenv.Event("login.complete", 2))
	waitEvents(t, s, idSecurity, 1, 3, 20*time.Second)
	close(stop)
	<-done
	if healthy.Load() == 0 || unhealthy.Load() != 0 {
		t.Errorf("/healthz during the reload: %d answers 200, %d failures", healthy.Load(), unhealthy.Load())
	}
}
