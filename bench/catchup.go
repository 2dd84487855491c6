package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"

	"github.com/auditfwd/auditfwd/bench/workload"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

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
