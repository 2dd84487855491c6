package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// floorResult is what the floor program reports.
type floorResult struct {
	Lines   int           `json:"lines"`
	Actions int           `json:"actions"`
	Hash    uint64        `json:"hash"` // of the action values, so none of the work is optimised away
	Wall    time.Duration `json:"-"`
	CPU     time.Duration `json:"-"`
}

var actionKey = []byte(`"action":"`)

// floor is the least a forwarder must do: read every line of the file and
// find its action value. No validation, no JSON decoding, no escapes, no
// routing, no durability.
func floor(path string) (floorResult, error) {
	var r floorResult
	f, err := os.Open(path)
	if err != nil {
		return r, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 256<<10), 1<<20)
	h := uint64(14695981039346656037)
	for sc.Scan() {
		line := sc.Bytes()
		r.Lines++
		i := bytes.Index(line, actionKey)
		if i < 0 {
			continue
		}
		v := line[i+len(actionKey):]
		j := bytes.IndexByte(v, '"')
		if j <= 0 {
			continue
		}
		r.Actions++
		for _, c := range v[:j] {
			h = (h ^ uint64(c)) * 1099511628211
		}
	}
	r.Hash = h
	return r, sc.Err()
}

// runFloorChild is the floor as its own process: `bench -floor FILE`.
func runFloorChild(path string) error {
	r, err := floor(path)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// measureFloor runs the floor program as a separate process, like auditfwd,
// and measures its wall time (start to exit) and CPU.
func measureFloor(path string) (floorResult, error) {
	self, err := os.Executable()
	if err != nil {
		return floorResult{}, err
	}
	cmd := exec.Command(self, "-floor", path)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return floorResult{}, fmt.Errorf("floor: %w", err)
	}
	wall := time.Since(start)
	var r floorResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("floor output: %w", err)
	}
	r.Wall = wall
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return r, nil
}
