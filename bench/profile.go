package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/daemon"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

// runProfile runs the catch-up in this process through the daemon package,
// as `auditfwd run` does (tailer → pipeline → spools → senders → Slack
// client, fake Slack, the HTTP servers on free ports), and
// writes cpu.pprof and allocs.pprof. The fake Slack's own work is in the
// profile too (package fakeslack); read the rest.
func runProfile(o options) error {
	if err := os.MkdirAll(o.profile, 0o755); err != nil {
		return err
	}
	dir, cleanup, err := workDir(o)
	if err != nil {
		return err
	}
	defer cleanup()
	logPath := filepath.Join(dir, "log", "audit.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	step("generating %d lines", o.lines)
	rate := runtime.MemProfileRate
	runtime.MemProfileRate = 0 // the generator's allocations are not the daemon's
	st, err := workload.WriteFile(logPath, o.lines, o.seed)
	runtime.MemProfileRate = rate
	if err != nil {
		return err
	}

	fs, err := startSlack()
	if err != nil {
		return err
	}
	defer fs.Close()
	os.Setenv("SLACK_BOT_TOKEN", benchToken)

	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(configYAML(logPath, filepath.Join(dir, "state"), fs.URL, "127.0.0.1:0", "127.0.0.1:0")), 0o644); err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	d, err := daemon.New(cfg, daemon.Options{Version: "bench"})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	cpuFile, err := os.Create(filepath.Join(o.profile, "cpu.pprof"))
	if err != nil {
		return err
	}
	defer cpuFile.Close()
	runtime.GC()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	if err := pprof.StartCPUProfile(cpuFile); err != nil {
		return err
	}
	start := time.Now()
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx) }()

	catch := newTally("bench-c-", st.Routed)
	seen := 0
	wctx, wcancel := context.WithTimeout(ctx, o.timeout)
	_, err = fs.WaitPostsFunc(wctx, func(p []fakeslack.Post) bool {
		for ; seen < len(p); seen++ {
			catch.add(p[seen])
		}
		return catch.distinct == catch.want
	})
	wcancel()
	pprof.StopCPUProfile()
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if err != nil {
		return fmt.Errorf("catch-up: %d of %d routed events reached Slack: %w", catch.distinct, catch.want, err)
	}
	wall := catch.last.Sub(start)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())

	allocFile, err := os.Create(filepath.Join(o.profile, "allocs.pprof"))
	if err != nil {
		return err
	}
	defer allocFile.Close()
	if err := pprof.Lookup("allocs").WriteTo(allocFile, 0); err != nil {
		return err
	}
	// What stays live after the catch-up (the fake Slack's record of the
	// posts included: ignore package fakeslack).
	runtime.GC()
	heapFile, err := os.Create(filepath.Join(o.profile, "heap.pprof"))
	if err != nil {
		return err
	}
	defer heapFile.Close()
	if err := pprof.Lookup("heap").WriteTo(heapFile, 0); err != nil {
		return err
	}
	cancel()
	if err := <-runDone; err != nil {
		return err
	}
	fmt.Printf("in-process catch-up of %d lines: %.3f s wall (%.0f lines/s), %.2f CPU-s (this process, fake Slack included)\n",
		o.lines, wall.Seconds(), float64(o.lines)/wall.Seconds(), cpu.Seconds())
	fmt.Printf("profiles: go tool pprof -top %s\n          go tool pprof -sample_index=alloc_space -top %s\n          go tool pprof -sample_index=inuse_space -ignore=fakeslack -top %s\n",
		cpuFile.Name(), allocFile.Name(), heapFile.Name())
	return nil
}
