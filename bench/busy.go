package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The two busy modes put other work on the machine while events are
// appended, as a gateway host sees it: logrotate compressing a big log, a
// backup or a package upgrade writing to the same file system (busy disk),
// or other programs keeping every CPU busy (busy CPUs). Both are bounded:
// child processes of the benchmark that run only during their phase, are
// stopped (SIGTERM, then SIGKILL) when it ends, and leave nothing behind
// (the busy disk's file is removed; it never holds more than -busy-disk-mb).

// busyDiskStats is what the busy-disk child reports when stopped.
type busyDiskStats struct {
	Rounds   int     `json:"rounds"` // files written and synced whole
	MB       float64 `json:"mb"`     // written in all
	MaxSync  float64 `json:"max_sync_ms"`
	MeanSync float64 `json:"mean_sync_ms"`
}

// runBusyDisk is the busy-disk child (`bench -busy-disk DIR`): in a loop,
// writes mb MiB to a file in dir through a buffered 1 MiB write at a time,
// fsyncs it and starts over, until SIGTERM. Its writes go through the page
// cache, so the kernel's writeback and the fsync compete with every other
// writer of the file system, as a big copy does.
func runBusyDisk(dir string, mb int) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	path := filepath.Join(dir, "busy-disk.tmp")
	defer os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("busy disk: another program's buffered writes, then its fsync.\n"), 1<<20/64)
	var st busyDiskStats
	var syncTotal time.Duration
	report := func() error {
		if st.Rounds > 0 {
			st.MeanSync = float64(syncTotal.Microseconds()) / 1000 / float64(st.Rounds)
		}
		return json.NewEncoder(os.Stdout).Encode(st)
	}
	for {
		if _, err := f.Seek(0, 0); err != nil {
			return err
		}
		for range mb {
			select {
			case <-stop:
				return report()
			default:
			}
			n, err := f.Write(chunk)
			if err != nil {
				return err
			}
			st.MB += float64(n) / (1 << 20)
		}
		t := time.Now()
		if err := f.Sync(); err != nil {
			return err
		}
		d := time.Since(t)
		syncTotal += d
		st.MaxSync = max(st.MaxSync, float64(d.Microseconds())/1000)
		st.Rounds++
		// Rewritten in place: the file never holds more than mb MiB, and
		// each round dirties every page again.
	}
}

// runSpin is one busy-CPU child (`bench -spin`): a loop on one thread with
// no system calls, no allocation and no goroutines of its own, until killed.
func runSpin() error {
	x := uint64(88172645463325252)
	for {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		if x == 0 { // never: keeps the loop from being optimised away
			fmt.Println(x)
		}
	}
}

// busy is a running set of busy children.
type busy struct {
	cmds []*exec.Cmd
	outs []*bytes.Buffer
	what string
}

// startBusyDisk starts the busy-disk child writing into dir.
func startBusyDisk(dir string, mb int) (*busy, error) {
	return startBusy("busy disk", [][]string{{"-busy-disk", dir, "-busy-disk-mb", strconv.Itoa(mb)}})
}

// startBusyCPUs starts n spinning children.
func startBusyCPUs(n int) (*busy, error) {
	args := make([][]string, n)
	for i := range args {
		args[i] = []string{"-spin"}
	}
	return startBusy("busy CPUs", args)
}

func startBusy(what string, args [][]string) (*busy, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b := &busy{what: what}
	for _, a := range args {
		cmd := exec.Command(self, a...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, os.Stderr
		if err := cmd.Start(); err != nil {
			b.stop()
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		b.cmds, b.outs = append(b.cmds, cmd), append(b.outs, out)
	}
	return b, nil
}

// stop ends the children (SIGTERM, SIGKILL after 5 s) and waits for them.
func (b *busy) stop() {
	for _, c := range b.cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range b.cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
}

// diskStats stops the busy-disk child and returns what it reported.
func (b *busy) diskStats() (busyDiskStats, error) {
	b.stop()
	var st busyDiskStats
	if len(b.outs) != 1 {
		return st, errors.New("busy disk: no child")
	}
	if err := json.Unmarshal(b.outs[0].Bytes(), &st); err != nil {
		return st, fmt.Errorf("busy disk: its report %q: %w", b.outs[0].String(), err)
	}
	return st, nil
}
