package statelock

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestSecondOwnerRefusedWithPid(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	// flock is per open file description: a second Acquire in this process
	// conflicts like another process would.
	_, err = Acquire(dir)
	var held *HeldError
	if !errors.As(err, &held) || held.Pid != os.Getpid() {
		t.Fatalf("second acquire: %v", err)
	}
	if !strings.Contains(err.Error(), "in use by pid") {
		t.Fatalf("message %q does not name the pid", err)
	}
	l.Release()
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	l2.Release()
}
