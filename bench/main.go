// Command bench is auditfwd's end-to-end benchmark (BENCHMARKS.md). It
// generates the reference audit log, builds the real auditfwd binary, runs it
// against an in-process fake Slack without rate limits and measures:
//
//   - catch-up: start_at: beginning on the reference log; wall time from
//     process start until every routed event is in Slack, lines/s, CPU
//     seconds (user+sys) and peak RSS at that moment;
//   - latency after the catch-up: 2 s after the last post, routed events
//     appended one at a time (default 20/s for 30 s); append-to-Slack p50,
//     p99, max, and the first events one by one;
//   - idle: CPU used over a minute with nothing appended; steady RSS;
//   - latency after idle: the same for 5 s once the idle minute is over;
//   - floor: a minimal Go program that only reads the lines and finds the
//     action value, as a separate process on the same file.
//
// The catch-up runs -runs times (each from scratch, with a new process) and
// the median is reported; the last run goes on to the latency and idle
// phases. It prints a table and, as its last line, one JSON object. It
// reports; it does not assert.
//
//	go run ./bench                 # the full run (about 2 minutes)
//	go run ./bench -lines 200000 -runs 1 -latency-duration 5s -idle-duration 10s   # smoke (< 30 s)
//	go run ./bench -profile /tmp/prof   # CPU, allocation and heap profiles of the catch-up
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

type options struct {
	lines       int
	seed        uint64
	dir         string
	keep        bool
	bin         string
	latencyDur  time.Duration
	latencyRate float64
	latencyGap  time.Duration
	idleDur     time.Duration
	idleLatDur  time.Duration
	timeout     time.Duration
	profile     string
	runs        int
	static      bool
	timeline    bool
}

func main() {
	var o options
	flag.IntVar(&o.lines, "lines", 1_000_000, "lines in the reference log")
	flag.Uint64Var(&o.seed, "seed", workload.DefaultSeed, "workload seed")
	flag.StringVar(&o.dir, "dir", "", "work directory (default: a new temporary directory, removed afterwards)")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (log, state, auditfwd output)")
	flag.StringVar(&o.bin, "bin", "", "auditfwd binary to run (default: go build ./cmd/auditfwd)")
	flag.DurationVar(&o.latencyDur, "latency-duration", 30*time.Second, "latency phase length (0 skips it)")
	flag.Float64Var(&o.latencyRate, "latency-rate", 20, "events appended per second in the latency phases")
	flag.DurationVar(&o.latencyGap, "latency-gap", 2*time.Second, "pause between the catch-up's last post and the first appended event")
	flag.DurationVar(&o.idleDur, "idle-duration", time.Minute, "idle phase length (0 skips it)")
	flag.DurationVar(&o.idleLatDur, "idle-latency-duration", 5*time.Second, "latency phase after the idle phase (0 skips it)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a phase after this long")
	flag.IntVar(&o.runs, "runs", 3, "catch-up runs (the median is reported)")
	flag.StringVar(&o.profile, "profile", "", "instead of the end-to-end run: run the catch-up in-process and write cpu.pprof, allocs.pprof and heap.pprof to this directory")
	flag.BoolVar(&o.static, "static", false, "build auditfwd with CGO_ENABLED=0 (a static binary: about 2 MB less RSS)")
	flag.BoolVar(&o.timeline, "timeline", false, "print lines read and posts made every 100 ms during the catch-up")
	floorPath := flag.String("floor", "", "internal: run the floor program on this file and exit")
	flag.Parse()

	var err error
	switch {
	case *floorPath != "":
		err = runFloorChild(*floorPath)
	case o.profile != "":
		err = runProfile(o)
	default:
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is the machine-readable line.
type result struct {
	Bench      string    `json:"bench"`
	GoVersion  string    `json:"go"`
	CPUs       int       `json:"cpus"`
	Lines      int       `json:"lines"`
	LogBytes   int64     `json:"log_bytes"`
	Routed     int       `json:"routed_events"`
	Posts      int       `json:"slack_posts"`
	Duplicates int       `json:"duplicates"`
	Runs       int       `json:"catchup_runs"`
	RunWalls   []float64 `json:"catchup_run_walls_s"`
	LoadAvg    string    `json:"loadavg_at_start"`
	Build      string    `json:"build"`
	CatchWall  float64   `json:"catchup_wall_s"`
	LinesPerS  float64   `json:"catchup_lines_per_s"`
	CatchCPU   float64   `json:"catchup_cpu_s"`
	CatchPeak  int64     `json:"catchup_peak_rss_bytes"`
	FloorWall  float64   `json:"floor_wall_s"`
	FloorCPU   float64   `json:"floor_cpu_s"`
	FloorRatio float64   `json:"ratio_wall_vs_floor"`
	CPURatio   float64   `json:"ratio_cpu_vs_floor"`

	LatencyEvents int       `json:"latency_events,omitempty"`
	LatencyP50    float64   `json:"latency_p50_ms,omitempty"`
	LatencyP99    float64   `json:"latency_p99_ms,omitempty"`
	LatencyMax    float64   `json:"latency_max_ms,omitempty"`
	LatencyFirst  []float64 `json:"latency_first_ms,omitempty"` // the first events, in append order
	LatencyCPU    float64   `json:"latency_cpu_s,omitempty"`

	IdleLatencyEvents int       `json:"idle_latency_events,omitempty"`
	IdleLatencyP50    float64   `json:"idle_latency_p50_ms,omitempty"`
	IdleLatencyP99    float64   `json:"idle_latency_p99_ms,omitempty"`
	IdleLatencyMax    float64   `json:"idle_latency_max_ms,omitempty"`
	IdleLatencyFirst  []float64 `json:"idle_latency_first_ms,omitempty"`

	IdleSeconds    float64 `json:"idle_s,omitempty"`
	IdleCPU        float64 `json:"idle_cpu_s,omitempty"`
	IdleCPUPerMin  float64 `json:"idle_cpu_s_per_min,omitempty"`
	IdleRunTime    float64 `json:"idle_cpu_precise_s,omitempty"`
	SteadyRSS      int64   `json:"steady_rss_bytes,omitempty"`
	SteadyRSSAnon  int64   `json:"steady_rss_anon_bytes,omitempty"`
	SteadyRSSFile  int64   `json:"steady_rss_file_bytes,omitempty"`
	GoHeapInuse    int64   `json:"go_heap_inuse_bytes,omitempty"`
	GoHeapIdle     int64   `json:"go_heap_idle_bytes,omitempty"`
	GoHeapReleased int64   `json:"go_heap_released_bytes,omitempty"`
	GoStack        int64   `json:"go_stack_inuse_bytes,omitempty"`
	GoNextGC       int64   `json:"go_next_gc_bytes,omitempty"`

	ExitCode int     `json:"exit_code"`
	TotalCPU float64 `json:"total_cpu_s"`
	PeakRSS  int64   `json:"peak_rss_bytes"` // VmHWM before SIGTERM: the whole last run

	Met map[string]bool `json:"targets_met"`
}

func run(o options) error {
	res := result{Bench: "auditfwd-e2e", GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Lines: o.lines}
	o.runs = max(1, o.runs)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		res.LoadAvg = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	dir, cleanup, err := workDir(o)
	if err != nil {
		return err
	}
	defer cleanup()

	bin := o.bin
	res.Build = "-bin " + bin
	if bin == "" {
		res.Build = "go build"
		if o.static {
			res.Build = "CGO_ENABLED=0 go build"
		}
		step("building auditfwd")
		if bin, err = build(dir, o.static); err != nil {
			return err
		}
	}

	logPath := filepath.Join(dir, "log", "audit.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	step("generating %d lines", o.lines)
	st, err := workload.WriteFile(logPath, o.lines, o.seed)
	if err != nil {
		return err
	}
	res.LogBytes, res.Routed = st.Bytes, st.Routed

	step("floor: reading the lines and finding the action (best of 3)")
	var fl floorResult
	for i := range 3 {
		r, err := measureFloor(logPath)
		if err != nil {
			return err
		}
		if r.Lines != o.lines {
			return fmt.Errorf("floor read %d lines, want %d", r.Lines, o.lines)
		}
		if i == 0 || r.Wall < fl.Wall {
			fl = r
		}
	}
	res.FloorWall, res.FloorCPU = fl.Wall.Seconds(), fl.CPU.Seconds()

	fs, err := startSlack()
	if err != nil {
		return err
	}
	defer fs.Close()

	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	adminAddr, err := freeAddr()
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(logPath, filepath.Join(dir, "state"), fs.URL, metricsAddr, adminAddr)), 0o644); err != nil {
		return err
	}
	outFile, err := os.Create(filepath.Join(dir, "auditfwd.out"))
	if err != nil {
		return err
	}
	defer outFile.Close()

	// Catch-up, -runs times from scratch; the last run goes on to the
	// latency and idle phases.
	var runs []catchResult
	var d *proc
	for i := range o.runs {
		if d != nil {
			if err := d.stop(); err != nil {
				return err
			}
		}
		step("catch-up %d/%d: auditfwd from the beginning of the log", i+1, o.runs)
		os.RemoveAll(filepath.Join(dir, "state"))
		r, p, err := catchUp(bin, cfgPath, benchToken, outFile, fs, st, metricsAddr, o)
		if p != nil {
			defer p.kill()
		}
		if err != nil {
			return err
		}
		runs = append(runs, r)
		d = p
	}
	pid := d.pid
	exited := d.exited
	m := medianRun(runs)
	res.Runs = len(runs)
	for _, r := range runs {
		res.RunWalls = append(res.RunWalls, r.wall.Seconds())
	}
	res.Posts, res.Duplicates = m.posts, m.dups
	res.CatchWall = m.wall.Seconds()
	res.LinesPerS = float64(o.lines) / m.wall.Seconds()
	res.CatchCPU = m.cpu.Seconds()
	res.CatchPeak = m.peak
	res.FloorRatio = m.wall.Seconds() / fl.Wall.Seconds()
	res.CPURatio = m.cpu.Seconds() / fl.CPU.Seconds()

	// Latency after the catch-up.
	nextMarker := 0
	if o.latencyDur > 0 && o.latencyRate > 0 {
		time.Sleep(time.Until(runs[len(runs)-1].lastPost.Add(o.latencyGap))) // the last run goes on
		step("latency after the catch-up: %g routed events/s for %v", o.latencyRate, o.latencyDur)
		cpu0, _ := procCPU(pid)
		lat, err := latency(fs, logPath, o, o.latencyDur, nextMarker)
		if err != nil {
			return err
		}
		nextMarker += lat.events()
		cpu1, _ := procCPU(pid)
		res.LatencyCPU = (cpu1 - cpu0).Seconds()
		res.LatencyEvents, res.LatencyP50, res.LatencyP99, res.LatencyMax, res.LatencyFirst = lat.summary()
	}

	// Idle.
	if o.idleDur > 0 {
		time.Sleep(2 * time.Second) // let the last deliveries settle
		step("idle: %v with nothing appended", o.idleDur)
		cpu0, _ := procCPU(pid)
		run0 := procRunTime(pid)
		t0 := time.Now()
		select {
		case <-time.After(o.idleDur):
		case <-exited:
			return fmt.Errorf("auditfwd exited during the idle phase; see %s", outFile.Name())
		}
		cpu1, _ := procCPU(pid)
		run1 := procRunTime(pid)
		el := time.Since(t0)
		res.IdleSeconds = el.Seconds()
		res.IdleCPU = (cpu1 - cpu0).Seconds()
		res.IdleRunTime = (run1 - run0).Seconds()
		res.IdleCPUPerMin = res.IdleRunTime * 60 / el.Seconds()
	}
	st2 := procStatus(pid)
	res.SteadyRSS, res.SteadyRSSAnon, res.SteadyRSSFile = st2["VmRSS:"], st2["RssAnon:"], st2["RssFile:"]
	if gm, err := scrapeGauges(metricsAddr, "go_memstats_heap_inuse_bytes", "go_memstats_heap_idle_bytes",
		"go_memstats_heap_released_bytes", "go_memstats_stack_inuse_bytes", "go_memstats_next_gc_bytes"); err == nil {
		res.GoHeapInuse, res.GoHeapIdle, res.GoHeapReleased, res.GoStack, res.GoNextGC = int64(gm[0]), int64(gm[1]), int64(gm[2]), int64(gm[3]), int64(gm[4])
	}

	// Latency after idle.
	if o.idleDur > 0 && o.idleLatDur > 0 && o.latencyRate > 0 {
		step("latency after idle: %g routed events/s for %v", o.latencyRate, o.idleLatDur)
		lat, err := latency(fs, logPath, o, o.idleLatDur, nextMarker)
		if err != nil {
			return err
		}
		res.IdleLatencyEvents, res.IdleLatencyP50, res.IdleLatencyP99, res.IdleLatencyMax, res.IdleLatencyFirst = lat.summary()
	}
	res.PeakRSS = procStatus(pid)["VmHWM:"]

	// Stop.
	if err := d.stop(); err != nil {
		return err
	}
	res.ExitCode = d.cmd.ProcessState.ExitCode()
	if ru, ok := d.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.TotalCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}

	res.Met = map[string]bool{
		"catchup_lines_per_s":  res.LinesPerS >= 1e6,
		"catchup_within_3x":    res.FloorRatio <= 3,
		"catchup_cpu_le_1s":    res.CatchCPU <= 1,
		"catchup_peak_rss_25m": res.CatchPeak <= 25e6,
	}
	if res.LatencyEvents > 0 {
		res.Met["latency_p99_20ms"] = res.LatencyP99 <= 20
		res.Met["latency_max_50ms"] = res.LatencyMax <= 50
	}
	if res.IdleLatencyEvents > 0 {
		res.Met["idle_latency_p99_20ms"] = res.IdleLatencyP99 <= 20
		res.Met["idle_latency_max_50ms"] = res.IdleLatencyMax <= 50
	}
	if res.IdleSeconds > 0 {
		res.Met["idle_cpu_0.05s_per_min"] = res.IdleCPUPerMin <= 0.05
		res.Met["steady_rss_20m"] = res.SteadyRSS <= 20e6
	}
	printTable(os.Stdout, res, st)
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	return nil
}

// proc is a running auditfwd.
type proc struct {
	cmd    *exec.Cmd
	pid    int
	exited chan struct{}
}

// stop sends SIGTERM and waits for the exit.
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(15 * time.Second):
		return errors.New("auditfwd did not exit within 15 s of SIGTERM")
	}
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

type catchResult struct {
	wall, cpu   time.Duration
	peak        int64
	posts, dups int
	lastPost    time.Time // when the last routed event reached Slack
}

// medianRun is the run with the median wall time.
func medianRun(runs []catchResult) catchResult {
	s := append([]catchResult(nil), runs...)
	sort.Slice(s, func(i, j int) bool { return s[i].wall < s[j].wall })
	return s[len(s)/2]
}

// catchUp starts auditfwd on the log from its beginning and waits until
// every routed event reached Slack; the process keeps running.
func catchUp(bin, cfgPath, tok string, out *os.File, fs *fakeslack.Server, st workload.Stats, metricsAddr string, o options) (catchResult, *proc, error) {
	var r catchResult
	cmd := exec.Command(bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "SLACK_BOT_TOKEN="+tok)
	cmd.Stdout, cmd.Stderr = out, out
	catch := newTally("bench-c-", st.Routed)
	seen := len(fs.Posts())
	first := seen
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()

	if o.timeline {
		go func() {
			for range 60 {
				time.Sleep(100 * time.Millisecond)
				n, _ := scrapeLines(metricsAddr)
				fmt.Fprintf(os.Stderr, "t=%.1fs lines=%.0f posts=%d\n", time.Since(start).Seconds(), n, len(fs.Posts())-first)
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	posts, err := fs.WaitPostsFunc(ctx, func(ps []fakeslack.Post) bool {
		for ; seen < len(ps); seen++ {
			catch.add(ps[seen])
		}
		select {
		case <-p.exited:
			return true
		default:
		}
		return catch.distinct == catch.want
	})
	cancel()
	cpuAt, cpuErr := procCPU(p.pid)
	_, peak := procMem(p.pid)
	if err != nil || catch.distinct != catch.want {
		return r, p, fmt.Errorf("catch-up: %d of %d routed events reached Slack (%v); see %s", catch.distinct, catch.want, err, out.Name())
	}
	if cpuErr != nil {
		return r, p, cpuErr
	}
	r = catchResult{wall: catch.last.Sub(start), cpu: cpuAt, peak: peak, posts: len(posts) - first, dups: catch.dups, lastPost: catch.last}
	if n, err := waitLines(metricsAddr, o.lines, 10*time.Second); err != nil {
		return r, p, fmt.Errorf("catch-up: auditfwd counted %v lines, want %d: %v", n, o.lines, err)
	}
	return r, p, nil
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func workDir(o options) (string, func(), error) {
	if o.dir != "" {
		if err := os.MkdirAll(o.dir, 0o755); err != nil {
			return "", nil, err
		}
		// A previous run's state would turn the catch-up into a resume.
		os.RemoveAll(filepath.Join(o.dir, "state"))
		return o.dir, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "auditfwd-bench-")
	if err != nil {
		return "", nil, err
	}
	if o.keep {
		step("work directory %s (kept)", dir)
		return dir, func() {}, nil
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}

// build compiles cmd/auditfwd from the module this command belongs to.
func build(dir string, static bool) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run bench from inside the auditfwd module (go run ./bench)")
	}
	bin := filepath.Join(dir, "auditfwd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/auditfwd")
	cmd.Dir = filepath.Dir(gomod)
	if static {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// configYAML is the daemon's config: the default channels of configs/example.yaml.
func configYAML(logPath, stateDir, apiURL, metricsAddr, adminAddr string) string {
	return fmt.Sprintf(`audit_log:
  path: %s
  format: auto
  start_at: beginning
  max_line_bytes: 1048576
state_dir: %s
log_level: info
slack:
  api_url: %s
metrics:
  listen: %s
admin:
  listen: %s
  public_url: http://%s
channels:
  - name: security
    slack_channel: "#security"
    actions:
      - login.complete
      - "login.*_failed"
      - login.user_not_authorized
      - "mfa_method.*"
      - user.update
      - user.update_roles
      - "api_token.*"
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions:
      - "deploy_approval_request.*"
      - release.promote
deploy_approval_alerts:
  enabled: false
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create, deploy_approval_request.created]
`, logPath, stateDir, apiURL, metricsAddr, adminAddr, adminAddr)
}

// tally counts the markers (prefix + 7 digits) that reached Slack.
type tally struct {
	prefix   string
	want     int
	count    []int
	at       []time.Time // when each marker first reached Slack
	distinct int
	dups     int
	last     time.Time // when the last new marker arrived
}

func newTally(prefix string, want int) *tally {
	return &tally{prefix: prefix, want: want, count: make([]int, want), at: make([]time.Time, want)}
}

func (t *tally) add(p fakeslack.Post) {
	text := p.Text
	var inPost map[int]bool
	for {
		i := strings.Index(text, t.prefix)
		if i < 0 {
			return
		}
		text = text[i+len(t.prefix):]
		if len(text) < 7 {
			return
		}
		n, err := strconv.Atoi(text[:7])
		if err != nil || n < 0 || n >= t.want {
			continue
		}
		if inPost[n] { // a message may show a marker more than once
			continue
		}
		if inPost == nil {
			inPost = map[int]bool{}
		}
		inPost[n] = true
		if t.count[n] == 0 {
			t.distinct++
			t.at[n] = p.Time
			if p.Time.After(t.last) {
				t.last = p.Time
			}
		} else {
			t.dups++
		}
		t.count[n]++
	}
}

// latencies are the append-to-Slack times of one phase, in append order.
type latencies []time.Duration

func (l latencies) events() int { return len(l) }

// summary is the count, p50, p99 and max in ms, and the first five events.
func (l latencies) summary() (n int, p50, p99, maxMS float64, first []float64) {
	sorted := append(latencies(nil), l...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, d := range l[:min(5, len(l))] {
		first = append(first, ms(d))
	}
	return len(l), ms(percentile(sorted, 0.50)), ms(percentile(sorted, 0.99)), ms(sorted[len(sorted)-1]), first
}

// latency appends routed events one at a time for dur at o.latencyRate,
// numbered from first, and returns their append-to-Slack times.
func latency(fs *fakeslack.Server, logPath string, o options, dur time.Duration, first int) (latencies, error) {
	n := max(1, int(dur.Seconds()*o.latencyRate))
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	postsBefore := len(fs.Posts())
	appended := make([]time.Time, n)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.latencyRate))
	defer tick.Stop()
	for i := range n {
		if i > 0 {
			<-tick.C
		}
		now := time.Now()
		appended[i] = now
		if _, err := f.Write(workload.LatencyEvent(first+i, now)); err != nil {
			return nil, err
		}
	}
	t := newTally("bench-l-", first+n)
	seen := postsBefore
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if _, err := fs.WaitPostsFunc(ctx, func(p []fakeslack.Post) bool {
		for ; seen < len(p); seen++ {
			t.add(p[seen])
		}
		return t.distinct == n
	}); err != nil {
		return nil, fmt.Errorf("latency: %d of %d events reached Slack: %w", t.distinct, n, err)
	}
	lat := make(latencies, n)
	worst := 0
	for i := range n {
		lat[i] = t.at[first+i].Sub(appended[i])
		if lat[i] > lat[worst] {
			worst = i
		}
	}
	step("latency: slowest event %d, appended %.1f s into the phase: %.1f ms", worst, appended[worst].Sub(appended[0]).Seconds(), ms(lat[worst]))
	return lat, nil
}

// percentile of sorted d (nearest rank).
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := int(float64(len(d))*p+0.999999) - 1
	return d[min(max(k, 0), len(d)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// scrapeGauges reads unlabelled samples from /metrics, in the order asked.
func scrapeGauges(addr string, names ...string) ([]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := make([]float64, len(names))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		for i, n := range names {
			if name == n {
				out[i], _ = strconv.ParseFloat(value, 64)
			}
		}
	}
	return out, sc.Err()
}

func scrapeLines(addr string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var got float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "auditfwd_log_lines_total{") {
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				v, _ := strconv.ParseFloat(line[i+1:], 64)
				got += v
			}
		}
	}
	return got, sc.Err()
}

// waitLines waits until auditfwd_log_lines_total adds up to want.
func waitLines(addr string, want int, timeout time.Duration) (float64, error) {
	deadline := time.Now().Add(timeout)
	var got float64
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			got = 0
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "auditfwd_log_lines_total{") {
					if i := strings.LastIndexByte(line, ' '); i > 0 {
						v, _ := strconv.ParseFloat(line[i+1:], 64)
						got += v
					}
				}
			}
			resp.Body.Close()
			if int(got) == want {
				return got, nil
			}
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func printTable(w io.Writer, r result, st workload.Stats) {
	mark := func(key string) string {
		ok, has := r.Met[key]
		switch {
		case !has:
			return ""
		case ok:
			return "met"
		}
		return "NOT MET"
	}
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	fmt.Fprintf(w, "\nauditfwd end-to-end benchmark: %d lines (%.0f MB, %.0f bytes/line), %d routed events; %d CPUs (load average %s at start), %s, %s\n\n",
		r.Lines, float64(r.LogBytes)/1e6, float64(r.LogBytes)/float64(max(1, r.Lines)), r.Routed, r.CPUs, r.LoadAvg, r.GoVersion, r.Build)
	row := func(phase, metric, value, target, met string) {
		fmt.Fprintf(w, "%-9s %-26s %-22s %-16s %s\n", phase, metric, value, target, met)
	}
	row("phase", "metric", "measured", "target", "")
	walls := make([]string, len(r.RunWalls))
	for i, w := range r.RunWalls {
		walls[i] = fmt.Sprintf("%.2f", w)
	}
	row("catch-up", "wall, start to last post", fmt.Sprintf("%.3f s", r.CatchWall), "", fmt.Sprintf("median of %d runs (%s s)", r.Runs, strings.Join(walls, ", ")))
	row("", "lines/s", fmt.Sprintf("%.0f", r.LinesPerS), "≥ 1,000,000", mark("catchup_lines_per_s"))
	row("", "CPU user+sys", fmt.Sprintf("%.2f s", r.CatchCPU), "≤ 1 s", mark("catchup_cpu_le_1s"))
	row("", "peak RSS (VmHWM)", mb(r.CatchPeak), "≤ 25 MB", mark("catchup_peak_rss_25m"))
	row("", "wall vs floor", fmt.Sprintf("%.2f×", r.FloorRatio), "≤ 3×", mark("catchup_within_3x"))
	row("", "CPU vs floor", fmt.Sprintf("%.2f×", r.CPURatio), "", "")
	row("", "Slack posts (digests)", fmt.Sprintf("%d (%d duplicates)", r.Posts, r.Duplicates), "", "")
	row("floor", "wall / CPU", fmt.Sprintf("%.3f s / %.2f s", r.FloorWall, r.FloorCPU), "", "")
	firsts := func(v []float64) string {
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = fmt.Sprintf("%.1f", x)
		}
		return strings.Join(out, ", ") + " ms"
	}
	if r.LatencyEvents > 0 {
		row("latency", "after the catch-up: events", fmt.Sprintf("%d", r.LatencyEvents), "", "")
		row("", "first events", firsts(r.LatencyFirst), "", "in append order")
		row("", "p50", fmt.Sprintf("%.1f ms", r.LatencyP50), "", "")
		row("", "p99", fmt.Sprintf("%.1f ms", r.LatencyP99), "≤ 20 ms", mark("latency_p99_20ms"))
		row("", "max", fmt.Sprintf("%.1f ms", r.LatencyMax), "≤ 50 ms", mark("latency_max_50ms"))
		row("", "CPU during the phase", fmt.Sprintf("%.2f s", r.LatencyCPU), "", "")
	}
	if r.IdleSeconds > 0 {
		row("idle", fmt.Sprintf("CPU over %.0f s", r.IdleSeconds), fmt.Sprintf("%.4f s", r.IdleRunTime), "", fmt.Sprintf("threads' schedstat; /proc/PID/stat says %.2f s", r.IdleCPU))
		row("", "CPU per minute", fmt.Sprintf("%.3f s", r.IdleCPUPerMin), "≤ 0.05 s", mark("idle_cpu_0.05s_per_min"))
		row("", "steady RSS (VmRSS)", mb(r.SteadyRSS), "≤ 20 MB", mark("steady_rss_20m"))
		row("", "  anonymous / file", mb(r.SteadyRSSAnon)+" / "+mb(r.SteadyRSSFile), "", "file: the binary's pages")
		row("", "  Go heap in use / unreleased", mb(r.GoHeapInuse)+" / "+mb(r.GoHeapIdle-r.GoHeapReleased), "", fmt.Sprintf("stacks %s, next GC at %s", mb(r.GoStack), mb(r.GoNextGC)))
	}
	if r.IdleLatencyEvents > 0 {
		row("latency", "after idle: events", fmt.Sprintf("%d", r.IdleLatencyEvents), "", "")
		row("", "first events", firsts(r.IdleLatencyFirst), "", "in append order")
		row("", "p50", fmt.Sprintf("%.1f ms", r.IdleLatencyP50), "", "")
		row("", "p99", fmt.Sprintf("%.1f ms", r.IdleLatencyP99), "≤ 20 ms", mark("idle_latency_p99_20ms"))
		row("", "max", fmt.Sprintf("%.1f ms", r.IdleLatencyMax), "≤ 50 ms", mark("idle_latency_max_50ms"))
	}
	row("exit", "SIGTERM", fmt.Sprintf("code %d", r.ExitCode), "", "")
	row("", "total CPU / peak RSS", fmt.Sprintf("%.2f s / %s", r.TotalCPU, mb(r.PeakRSS)), "", "last run, all phases")
	fmt.Fprintln(w)
}

// benchToken is the bot token the fake Slack accepts.
const benchToken = "xoxb-bench-token"

// startSlack runs the fake Slack the daemon posts to: no rate limit, the
// channels of configs/example.yaml.
func startSlack() (*fakeslack.Server, error) {
	fs, err := fakeslack.Start()
	if err != nil {
		return nil, err
	}
	fs.AddToken(benchToken)
	fs.AddChannel("C0SECURITY", "security", true)
	fs.AddChannel("C0INFRA", "infrastructure", true)
	return fs, nil
}
