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
//   - latency with a busy disk: the same while another process writes
//     256 MiB (buffered) to the same file system and fsyncs it, in a loop;
//   - latency with busy CPUs: the same while one spinning process per CPU
//     competes for the CPUs;
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
//	go run ./bench -source postgres     # the gateway's table instead of a log (postgres.go)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
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
	idleScrape  time.Duration
	atSteady    string
	timeout     time.Duration
	profile     string
	runs        int
	static      bool
	timeline    bool
	source      string
	rows        int
	poll        time.Duration
	busyDur     time.Duration
	busyDiskMB  int
	busyCPUs    int
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
	flag.DurationVar(&o.idleScrape, "idle-scrape", 15*time.Second, "during the idle phase, scrape /metrics this often, as Prometheus does (gzip accepted); 0: no scrapes")
	flag.StringVar(&o.atSteady, "at-steady", "", "once the steady RSS is read (the idle phase over), run this shell command with the daemon's pid in $AUDITFWD_PID and its binary in $AUDITFWD_BIN: to inspect its memory (/proc/PID/smaps, pagemap, gdb) at that point")
	flag.DurationVar(&o.idleLatDur, "idle-latency-duration", 5*time.Second, "latency phase after the idle phase (0 skips it)")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a phase after this long")
	flag.IntVar(&o.runs, "runs", 3, "catch-up runs (the median is reported)")
	flag.StringVar(&o.profile, "profile", "", "instead of the end-to-end run: run the catch-up in-process and write cpu.pprof, allocs.pprof and heap.pprof to this directory")
	flag.BoolVar(&o.static, "static", false, "build auditfwd with CGO_ENABLED=0 (a static binary: about 2 MB less RSS)")
	flag.BoolVar(&o.timeline, "timeline", false, "print lines read and posts made every 100 ms during the catch-up")
	flag.StringVar(&o.source, "source", "file", "file (the reference log) or postgres (the gateway's table in a throw-away PostgreSQL; needs the postgresql package)")
	flag.IntVar(&o.rows, "rows", 100_000, "with -source postgres: rows in the table")
	flag.DurationVar(&o.poll, "poll", time.Second, "with -source postgres: audit_log.postgres.poll_interval")
	flag.DurationVar(&o.busyDur, "busy-duration", 20*time.Second, "length of each busy phase: latency with a busy disk, then with busy CPUs (0 skips both)")
	flag.IntVar(&o.busyDiskMB, "busy-disk-mb", 256, "busy disk: MiB another process writes (buffered) and then fsyncs, in a loop, on the work directory's file system")
	flag.IntVar(&o.busyCPUs, "busy-cpus", runtime.NumCPU(), "busy CPUs: processes spinning in a loop (one thread each)")
	floorPath := flag.String("floor", "", "internal: run the floor program on this file and exit")
	busyDiskDir := flag.String("busy-disk", "", "internal: write and sync in this directory in a loop until SIGTERM")
	spin := flag.Bool("spin", false, "internal: spin on one CPU until killed")
	flag.Parse()

	var err error
	switch {
	case *floorPath != "":
		err = runFloorChild(*floorPath)
	case *busyDiskDir != "":
		err = runBusyDisk(*busyDiskDir, o.busyDiskMB)
	case *spin:
		err = runSpin()
	case o.profile != "":
		err = runProfile(o)
	case o.source == "postgres":
		err = runPostgres(o)
	default:
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
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
