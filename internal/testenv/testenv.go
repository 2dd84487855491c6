// Package testenv runs the real auditfwd binary for integration tests: it
// builds it once, writes a config with free loopback ports, starts, signals
// and restarts the process, appends audit events to real files and reads
// /metrics. It is only imported by tests.
package testenv

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/auditfwd once per test process and returns its path.
// The package's TestMain calls Main, which removes it at the end.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "auditfwd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "auditfwd")
		// The test hooks (kill points of the in-flight test) are compiled
		// in; they do nothing unless their environment variable is set.
		args := []string{"build", "-tags", "auditfwd_testhooks", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/auditfwd")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ModuleRoot is the directory of the auditfwd module the test runs in (its
// go.mod's directory).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// Main runs a package's tests (call it from TestMain) and then removes the
// binary Binary built, which outlives every single test.
func Main(m *testing.M) int {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	return code
}

// FreeAddr returns a loopback address nobody listens on right now, for a
// process the test starts later. Its port is below the kernel's ephemeral
// range (net.ipv4.ip_local_port_range), where sockets bound to port 0 (the
// tests' HTTP servers, outgoing connections) never land, and no other
// FreeAddr of this test process has handed it out: between this call and the
// process binding it, only a test process of another package could pick
// the same port, and Start picks new ports should that happen.
func FreeAddr(t testing.TB) string {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > freePortMin+1000 {
				low = n
			}
		}
	}
	for range 1000 {
		port := freePortMin + rand.IntN(low-freePortMin)
		if _, taken := handedOut.LoadOrStore(port, true); taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken
		}
		l.Close()
		return l.Addr().String()
	}
	t.Fatalf("no free loopback port between %d and %d", freePortMin, low)
	return ""
}

// handedOut holds the ports FreeAddr returned in this test process: two
// daemons (or a daemon's two listeners) never get the same one.
var handedOut sync.Map

// freePortMin is where FreeAddr's ports start: above the usual fixed ports
// of services (PostgreSQL 5432, Prometheus 9090, …).
const freePortMin = 20000

// httpClient gives up on a daemon that does not answer (or a port someone
// else holds) instead of waiting forever.
var httpClient = &http.Client{Timeout: 5 * time.Second}

// Daemon is one auditfwd process and its files.
type Daemon struct {
	t          testing.TB
	Bin        string
	Dir        string
	ConfigPath string
	LogPath    string
	StateDir   string
	Metrics    string // host:port
	Admin      string // host:port
	Env        []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	output *SyncBuffer
	runs   int
}

// Options describe the daemon's config; Channels is YAML for the channels
// key (omitted when empty, so the defaults apply) and Extra is appended as is.
type Options struct {
	APIURL   string
	Channels string
	Extra    string
	StartAt  string // default beginning
	Format   string
	Env      []string
	AuditLog string // more audit_log keys, each line indented by two spaces (source: postgres …)
}

// New writes the config into a temp dir; Start runs the process.
func New(t testing.TB, o Options) *Daemon {
	t.Helper()
	dir := t.TempDir()
	d := &Daemon{
		t: t, Bin: Binary(t), Dir: dir,
		ConfigPath: filepath.Join(dir, "config.yaml"),
		LogPath:    filepath.Join(dir, "log", "audit.log"),
		StateDir:   filepath.Join(dir, "state"),
		Metrics:    FreeAddr(t),
		Admin:      FreeAddr(t),
		Env:        o.Env,
		output:     &SyncBuffer{},
	}
	if err := os.MkdirAll(filepath.Dir(d.LogPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if o.StartAt == "" {
		o.StartAt = "beginning"
	}
	if o.Format == "" {
		o.Format = "auto"
	}
	cfg := fmt.Sprintf(`audit_log:
  path: %s
  format: %s
  start_at: %s
%sstate_dir: %s
log_level: debug
slack:
  api_url: %s
metrics:
  listen: %s
admin:
  listen: %s
  public_url: http://%s
`, d.LogPath, o.Format, o.StartAt, o.AuditLog, d.StateDir, o.APIURL, d.Metrics, d.Admin, d.Admin)
	if o.Channels != "" {
		cfg += "channels:\n" + o.Channels
	}
	cfg += o.Extra
	d.WriteConfig(cfg)
	t.Cleanup(func() {
		d.Kill()
		if strings.Contains(d.Output(), "WARNING: DATA RACE") {
			t.Errorf("the race detector found a data race in auditfwd")
		}
		if t.Failed() {
			t.Logf("auditfwd output:\n%s", d.Output())
		}
	})
	return d
}

// WriteConfig replaces the config file (in place).
func (d *Daemon) WriteConfig(yaml string) {
	if err := os.WriteFile(d.ConfigPath, []byte(yaml), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// Start runs `auditfwd run` and waits until /readyz answers 200. When the
// process cannot listen because another took one of its ports meanwhile
// ("address already in use"), Start gives it new ports (Metrics and Admin
// change, in the config file too) and starts it again. It knows the process
// listens from its "auditfwd started" log line (log_level info or debug).
func (d *Daemon) Start(args ...string) {
	d.t.Helper()
	for attempt := 1; ; attempt++ {
		before := len(d.Output())
		if d.start(args) {
			return
		}
		if attempt == 5 || !strings.Contains(d.Output()[before:], "address already in use") {
			d.t.Fatalf("auditfwd exited before ready:\n%s", d.Output())
		}
		d.newPorts()
	}
}

// newPorts moves the daemon to new metrics and admin ports.
func (d *Daemon) newPorts() {
	d.t.Helper()
	data, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		d.t.Fatal(err)
	}
	metrics, admin := FreeAddr(d.t), FreeAddr(d.t)
	d.WriteConfig(strings.NewReplacer(d.Metrics, metrics, d.Admin, admin).Replace(string(data)))
	fmt.Fprintf(d.output, "----- %s and %s were taken; now %s and %s -----\n", d.Metrics, d.Admin, metrics, admin)
	d.Metrics, d.Admin = metrics, admin
}

// start runs the process once; false when it exited before it was ready.
func (d *Daemon) start(args []string) bool {
	d.t.Helper()
	d.mu.Lock()
	cmd := exec.Command(d.Bin, append([]string{"run", "--config", d.ConfigPath}, args...)...)
	// A data race in the daemon fails the test through the exit code and output.
	cmd.Env = append(append(os.Environ(), "GORACE=halt_on_error=1"), d.Env...)
	d.runs++
	fmt.Fprintf(d.output, "----- start %d -----\n", d.runs)
	started := len(d.output.String())
	cmd.Stdout = d.output
	cmd.Stderr = d.output
	if err := cmd.Start(); err != nil {
		d.mu.Unlock()
		d.t.Fatal(err)
	}
	exited := make(chan struct{})
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()
	go func() {
		cmd.Wait()
		close(exited)
	}()
	ready := false
	Eventually(d.t, 20*time.Second, "auditfwd /readyz", func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		// Until this process says it listens, the address may be another's.
		if !strings.Contains(d.output.String()[started:], `msg="auditfwd started"`) {
			return false
		}
		resp, err := httpClient.Get("http://" + d.Metrics + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		ready = resp.StatusCode == 200
		return ready
	})
	if !ready {
		d.mu.Lock()
		d.cmd = nil
		d.mu.Unlock()
	}
	return ready
}

// Signal sends sig and, for SIGTERM/SIGINT, waits for the exit and returns its code.
func (d *Daemon) Signal(sig syscall.Signal) int {
	d.t.Helper()
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.mu.Unlock()
	if cmd == nil {
		return -1
	}
	cmd.Process.Signal(sig)
	if sig == syscall.SIGHUP {
		return 0
	}
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		d.t.Fatalf("auditfwd did not exit within 15 s of %v", sig)
	}
	d.mu.Lock()
	d.cmd = nil
	d.mu.Unlock()
	return cmd.ProcessState.ExitCode()
}

// Kill sends SIGKILL (a crash) and waits for the process to be gone.
func (d *Daemon) Kill() {
	d.mu.Lock()
	cmd, exited := d.cmd, d.exited
	d.cmd = nil
	d.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Pid is the running process's id (0 when stopped).
func (d *Daemon) Pid() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil {
		return 0
	}
	return d.cmd.Process.Pid
}

// Output is everything the process printed so far.
func (d *Daemon) Output() string { return d.output.String() }

// WaitOutput waits until the daemon's output holds every one of want. A
// line reaches the test through a pipe, possibly after what the daemon did
// next (a metric, a post) is visible: checking the output at once is a race.
func (d *Daemon) WaitOutput(want ...string) {
	d.t.Helper()
	Eventually(d.t, 20*time.Second, fmt.Sprintf("%q in auditfwd's output", want), func() bool {
		out := d.Output()
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	})
}

// Run runs another auditfwd command with this daemon's config.
func (d *Daemon) Run(args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(d.Bin, append(args[:1:1], append([]string{"--config", d.ConfigPath}, args[1:]...)...)...)
	cmd.Env = append(os.Environ(), d.Env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return o.String(), e.String(), code
}

// Append writes lines (each gets a newline) to the audit log in one write.
func (d *Daemon) Append(lines ...string) {
	d.t.Helper()
	AppendFile(d.t, d.LogPath, lines...)
}

// AppendFile appends lines to path, creating it.
func AppendFile(t testing.TB, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(f, b.String()); err != nil {
		t.Fatal(err)
	}
}

// Scrape reads /metrics.
func (d *Daemon) Scrape() (map[string]*familyValues, error) {
	resp, err := httpClient.Get("http://" + d.Metrics + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]*familyValues{}
	for name, f := range fams {
		fv := &familyValues{}
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Histogram != nil:
				v = float64(m.Histogram.GetSampleCount())
			}
			fv.samples = append(fv.samples, sample{labels, v})
		}
		out[name] = fv
	}
	return out, nil
}

type sample struct {
	labels map[string]string
	value  float64
}

type familyValues struct{ samples []sample }

// Metric returns the value of name with exactly matching labels given as
// "k=v" pairs (histograms: their sample count); ok false when absent.
func (d *Daemon) Metric(name string, labels ...string) (float64, bool) {
	vs := d.values(name, labels)
	if len(vs) == 0 {
		return 0, false
	}
	return vs[0], true
}

// MetricSum adds up every sample of name whose labels include the given
// "k=v" pairs (histograms: their sample counts).
func (d *Daemon) MetricSum(name string, labels ...string) float64 {
	var sum float64
	for _, v := range d.values(name, labels) {
		sum += v
	}
	return sum
}

// values are the samples of name whose labels include labels.
func (d *Daemon) values(name string, labels []string) []float64 {
	fams, err := d.Scrape()
	if err != nil {
		return nil
	}
	f, ok := fams[name]
	if !ok {
		return nil
	}
	var out []float64
next:
	for _, s := range f.samples {
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if s.labels[k] != v {
				continue next
			}
		}
		out = append(out, s.value)
	}
	return out
}

// MustMetric is Metric that fails the test when the series is absent.
func (d *Daemon) MustMetric(name string, labels ...string) float64 {
	d.t.Helper()
	v, ok := d.Metric(name, labels...)
	if !ok {
		d.t.Fatalf("metric %s%v not found", name, labels)
	}
	return v
}

// WaitMetric waits until the metric has the value want, and fails the test
// with the last value it saw when that takes over 20 s. What the daemon
// counts after it handed a message over (delivered, a queue's length, lines
// routed, counted after the spools were published) can lag what the test
// already saw at the fake Slack: checking at once is a race.
func (d *Daemon) WaitMetric(want float64, name string, labels ...string) {
	d.t.Helper()
	var got float64
	var ok bool
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if got, ok = d.Metric(name, labels...); ok && got == want {
			return
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("%s%v = %v (found: %v), want %v", name, labels, got, ok, want)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// RSSBytes is the process's resident set (VmRSS) and peak (VmHWM).
func (d *Daemon) RSSBytes() (rss, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.Pid()))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb * 1024
		case "VmHWM:":
			peak = kb * 1024
		}
	}
	return rss, peak
}

// Eventually polls cond every 25 ms until it holds, failing after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-tick.C:
		}
	}
}

// Event is a JSON audit line with a unique marker in its resource field.
func Event(action string, n int, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"action":%q,"action_type":"auth","resource":"%s","resource_type":"test","status":"success","ts":%q,"user_email":"tester@example.com"`,
		action, Marker(n), time.Now().UTC().Format(time.RFC3339Nano))
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&b, `,%q:%q`, extra[i], extra[i+1])
	}
	b.WriteString("}")
	return b.String()
}

// Marker is the unique text Event puts into an event.
func Marker(n int) string { return fmt.Sprintf("evt-%07d", n) }

var markerRE = regexp.MustCompile(`evt-(\d{7})`)

// Count tallies markers: how often each event number reached Slack (once
// per message, however often the message repeats it in text and blocks).
type Count map[int]int

// CountMarkers counts the events in texts, one text per message.
func CountMarkers(texts []string) (Count, []int) {
	c := Count{}
	var order []int
	for _, text := range texts {
		seen := map[int]bool{}
		for _, m := range markerRE.FindAllStringSubmatch(text, -1) {
			n, _ := strconv.Atoi(m[1])
			if !seen[n] {
				seen[n] = true
				c[n]++
				order = append(order, n)
			}
		}
	}
	return c, order
}

// Repeats counts the texts, one per message and in the order Slack got
// them, whose events had all arrived before (in an earlier text or in
// seen), and adds every text's events to seen.
func Repeats(seen map[int]bool, texts []string) int {
	repeats := 0
	for _, text := range texts {
		m, _ := CountMarkers([]string{text})
		repeat := len(m) > 0
		for n := range m {
			repeat = repeat && seen[n]
			seen[n] = true
		}
		if repeat {
			repeats++
		}
	}
	return repeats
}

// MissingDuplicates compares c with the events from..to-1.
func (c Count) MissingDuplicates(from, to int) (missing, dups []int) {
	for n := from; n < to; n++ {
		switch k := c[n]; {
		case k == 0:
			missing = append(missing, n)
		case k > 1:
			for i := 1; i < k; i++ {
				dups = append(dups, n)
			}
		}
	}
	sort.Ints(dups)
	return missing, dups
}

// SyncBuffer is a bytes.Buffer that a process's output and a test can
// share: writes and reads are serialised.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// integrationParallel is how many integration tests run at once unless
// -parallel says otherwise: they mostly wait (on a daemon, a fake Slack,
// Slack's backoff), so more than the CPUs go at once.
const integrationParallel = 8

// Parallel raises -test.parallel to integrationParallel when the command
// line did not set it. Call it from TestMain, after flag.Parse.
func Parallel() {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", strconv.Itoa(integrationParallel))
	}
}
