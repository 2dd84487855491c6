package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// lookTool finds a tool the suite needs; CI installs it, so a missing tool
// fails the test rather than skipping it.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it (apt-get install -y prometheus), as .ci/run does", name)
	}
	return p
}

// startPrometheus runs a real Prometheus scraping target every second.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin := lookTool(t, "prometheus")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: auditfwd
    static_configs:
      - targets: [%q]
`, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	testenv.Eventually(t, 30*time.Second, "prometheus ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return base
}

// promQuery returns the value of the first sample of an instant query.
func promQuery(base, q string) (float64, bool) {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if json.NewDecoder(resp.Body).Decode(&r) != nil || r.Status != "success" || len(r.Data.Result) == 0 {
		return 0, false
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

func TestPrometheusScrapesDeliveriesAndFailures(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	prom := startPrometheus(t, d.Metrics)

	for i := 0; i < 5; i++ {
		d.Append(testenv.Event("login.complete", i))
	}
	waitEvents(t, s, idSecurity, 0, 5, 20*time.Second)
	testenv.Eventually(t, 30*time.Second, "Prometheus sees 5 deliveries", func() bool {
		v, ok := promQuery(prom, `auditfwd_events_delivered_total{job="auditfwd",channel="security"}`)
		return ok && v == 5
	})

	s.SetMode(fakeslack.ModeError500) // a Slack outage
	d.Append(testenv.Event("login.complete", 5))
	testenv.Eventually(t, 30*time.Second, "Prometheus sees the outage", func() bool {
		v, ok := promQuery(prom, `auditfwd_delivery_failures_total{job="auditfwd",channel="security",reason="http_5xx"}`)
		return ok && v >= 1
	})
	if v, ok := promQuery(prom, `up{job="auditfwd"}`); !ok || v != 1 {
		t.Fatalf("up = %v %v", v, ok)
	}
	s.SetMode(fakeslack.ModeOK)
	waitEvents(t, s, idSecurity, 5, 6, 60*time.Second)
}

func TestPromtoolAcceptsTheMetrics(t *testing.T) {
	t.Parallel()
	promtool := lookTool(t, "promtool")
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	d.Append(testenv.Event("login.complete", 1), "garbage")
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	// The daemon records the delivery just after Slack answered: the fake
	// Slack may have the post a moment before the metrics have it.
	var body []byte
	testenv.Eventually(t, 10*time.Second, "the delivery in the metrics", func() bool {
		resp, err := http.Get("http://" + d.Metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return bytes.Contains(body, []byte("# TYPE auditfwd_delivery_lag_seconds "))
	})
	// Served uncompressed even to a scraper that accepts gzip, as
	// Prometheus does: the gzip writer kept between scrapes cost an idle
	// daemon more memory than the exposition's size.
	req, _ := http.NewRequest(http.MethodGet, "http://"+d.Metrics+"/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if enc := resp.Header.Get("Content-Encoding"); enc != "" || !bytes.HasPrefix(plain, []byte("# HELP ")) {
		t.Errorf("/metrics with Accept-Encoding: gzip: Content-Encoding %q, body starts %q", enc, plain[:min(len(plain), 16)])
	}
	t.Logf("/metrics: %d bytes", len(plain))
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, name := range []string{
		"auditfwd_log_lines_total", "auditfwd_events_routed_total", "auditfwd_events_unrouted_total",
		// delivery_failures and dead_lettered appear with their first reason
		// (the reason label is Slack's error code, unknown in advance).
		"auditfwd_events_delivered_total", "auditfwd_slack_messages_total",
		"auditfwd_slack_request_duration_seconds", "auditfwd_delivery_lag_seconds",
		"auditfwd_queue_events", "auditfwd_log_lag_bytes", "auditfwd_slack_connected",
		"auditfwd_config_last_reload_successful", "auditfwd_config_last_reload_success_timestamp_seconds",
		"auditfwd_build_info", "go_goroutines", "process_resident_memory_bytes",
		"auditfwd_leader", "auditfwd_source_up", "auditfwd_source_lag_events", "auditfwd_chain_breaks_total",
	} {
		if !bytes.Contains(body, []byte("# TYPE "+name+" ")) {
			t.Errorf("metric %s missing from /metrics", name)
		}
	}
}
