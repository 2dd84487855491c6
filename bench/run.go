package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
)

// prepare notes the load average, makes the work directory and builds
// auditfwd (unless -bin names one); how says which.
func prepare(o options, loadAvg *string) (dir string, cleanup func(), bin, how string, err error) {
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		*loadAvg = strings.Join(strings.Fields(string(la))[:3], " ")
	}
	dir, cleanup, err = workDir(o)
	if err != nil {
		return "", nil, "", "", err
	}
	bin, how = o.bin, "-bin "+o.bin
	if bin == "" {
		how = "go build"
		if o.static {
			how = "CGO_ENABLED=0 go build"
		}
		step("building auditfwd")
		if bin, err = build(dir, o.static); err != nil {
			cleanup()
			return "", nil, "", "", err
		}
	}
	return dir, cleanup, bin, how, nil
}

func run(o options) error {
	res := result{Bench: "auditfwd-e2e", GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Lines: o.lines}
	o.runs = max(1, o.runs)
	dir, cleanup, bin, how, err := prepare(o, &res.LoadAvg)
	if err != nil {
		return err
	}
	defer cleanup()
	res.Build = how

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
		scrapes, scrapeErrs := 0, 0
		var scrape <-chan time.Time
		if o.idleScrape > 0 {
			tick := time.NewTicker(o.idleScrape)
			defer tick.Stop()
			scrape = tick.C
		}
		done := time.After(o.idleDur)
	idle:
		for {
			select {
			case <-scrape:
				// As Prometheus does: the whole exposition, gzip accepted
				// (Go's client asks for it), every scrape interval.
				if _, err := scrapeGauges(metricsAddr); err != nil {
					scrapeErrs++
				}
				scrapes++
			case <-done:
				break idle
			case <-exited:
				return fmt.Errorf("auditfwd exited during the idle phase; see %s", outFile.Name())
			}
		}
		if scrapeErrs > 0 {
			return fmt.Errorf("idle: %d of %d scrapes of /metrics failed", scrapeErrs, scrapes)
		}
		res.IdleScrapes = scrapes
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
	if o.atSteady != "" {
		if err := atSteady(o.atSteady, pid, bin); err != nil {
			return err
		}
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

	// Latency with a busy disk, then with busy CPUs.
	if o.busyDur > 0 && o.latencyRate > 0 {
		lat, load, err := busyDiskLatency(fs, logPath, dir, o, nextMarker)
		if err != nil {
			return err
		}
		nextMarker += lat.events()
		res.BusyDisk, res.BusyDiskLoad = newPhase(lat), &load
		if lat, err = busyCPULatency(fs, logPath, o, nextMarker); err != nil {
			return err
		}
		nextMarker += lat.events()
		res.BusyCPUs = newPhase(lat)
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

	res.CatchCPUPerM = res.CatchCPU / (float64(o.lines) / 1e6)
	res.Met = map[string]bool{
		"catchup_lines_per_s":           res.LinesPerS >= 1e6,
		"catchup_within_3x":             res.FloorRatio <= 3,
		"catchup_cpu_le_0.8s_per_mline": res.CatchCPUPerM <= 0.8,
		"catchup_peak_rss_25m":          res.CatchPeak <= 25e6,
	}
	if res.LatencyEvents > 0 {
		res.Met["latency_p99_20ms"] = res.LatencyP99 <= 20
		res.Met["latency_max_50ms"] = res.LatencyMax <= 50
	}
	if res.IdleLatencyEvents > 0 {
		res.Met["idle_latency_p99_20ms"] = res.IdleLatencyP99 <= 20
		res.Met["idle_latency_max_50ms"] = res.IdleLatencyMax <= 50
	}
	for name, ph := range map[string]*phase{"busy_disk": res.BusyDisk, "busy_cpus": res.BusyCPUs} {
		if ph != nil {
			res.Met[name+"_latency_p99_20ms"] = ph.P99 <= 20
			res.Met[name+"_latency_max_50ms"] = ph.Max <= 50
		}
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
