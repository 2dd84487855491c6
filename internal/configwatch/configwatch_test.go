package configwatch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fswatch"
)

// watch starts Watch on path with short timings and returns the channel its
// calls arrive on.
func watch(t *testing.T, path string, o Options) <-chan struct{} {
	t.Helper()
	if o.Debounce == 0 {
		o.Debounce = 50 * time.Millisecond
	}
	if o.Recheck == 0 {
		o.Recheck = time.Hour
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	calls := make(chan struct{}, 1000)
	Watch(ctx, path, o, func() { calls <- struct{}{} })
	return calls
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// renameOver saves like most editors: a temp file in the same directory,
// renamed over the target.
func renameOver(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".swp")
	write(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// swapSymlink points link at target atomically (ln -sfn's rename).
func swapSymlink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + "_tmp"
	symlink(t, target, tmp)
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

func waitCall(t *testing.T, calls <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-calls:
	case <-time.After(10 * time.Second):
		t.Fatalf("no change reported after %s", what)
	}
}

// noCall asserts that nothing is reported for a while: long enough for the
// debounce to have fired several times.
func noCall(t *testing.T, calls <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-calls:
		t.Fatalf("a change was reported after %s", what)
	case <-time.After(400 * time.Millisecond):
	}
}

// drain counts the calls that arrive until none came for quiet.
func drain(calls <-chan struct{}, quiet time.Duration) int {
	n := 0
	for {
		select {
		case <-calls:
			n++
		case <-time.After(quiet):
			return n
		}
	}
}

func TestReloadWatchEditorSaves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	write(t, path, "v: 1\n")
	calls := watch(t, path, Options{})

	renameOver(t, path, "v: 2\n")
	waitCall(t, calls, "a rename over the file")

	write(t, path, "v: 3\n")
	waitCall(t, calls, "a write in place")

	// vim with backupcopy=no: rename the original away, write a new file,
	// delete the backup.
	if err := os.Rename(path, path+"~"); err != nil {
		t.Fatal(err)
	}
	write(t, path, "v: 4\n")
	os.Remove(path + "~")
	waitCall(t, calls, "vim's backup dance")
	if n := drain(calls, 300*time.Millisecond); n > 0 {
		t.Fatalf("%d extra calls after one save", n)
	}

	// Noise: chmod, touch, other files in the directory.
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "other.yaml"), "x")
	renameOver(t, filepath.Join(dir, "other.yaml"), "y")
	noCall(t, calls, "chmod, touch and writes to other files")
}

func TestReloadWatchBurstIsDebounced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	write(t, path, "v: 0\n")
	calls := watch(t, path, Options{Debounce: 100 * time.Millisecond})
	for i := 1; i <= 50; i++ {
		write(t, path, fmt.Sprintf("v: %d\n", i))
	}
	waitCall(t, calls, "50 writes")
	if n := drain(calls, 400*time.Millisecond); n > 1 {
		t.Fatalf("50 rapid writes reported %d times", n+1)
	}
}

func TestReloadWatchSteadyEventsStillFire(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	write(t, path, "v: 0\n")
	calls := watch(t, path, Options{Debounce: 100 * time.Millisecond, MaxDelay: 300 * time.Millisecond})
	start := time.Now()
	for i := 0; time.Since(start) < 1500*time.Millisecond; i++ {
		write(t, path, fmt.Sprintf("v: %d\n", i))
		time.Sleep(30 * time.Millisecond) // a writer that never pauses for a whole debounce
	}
	n := drain(calls, 400*time.Millisecond)
	if n < 2 {
		t.Fatalf("a steady stream of writes for 1.5 s was reported %d times; MaxDelay should fire", n)
	}
}

func TestReloadWatchConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	for _, ts := range []string{"..2026_03_20_01_00_00.000000001", "..2026_03_20_02_00_00.000000002"} {
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, ts, "config.yaml"), "ts: "+ts+"\n")
	}
	symlink(t, "..2026_03_20_01_00_00.000000001", filepath.Join(dir, "..data"))
	path := filepath.Join(dir, "config.yaml")
	symlink(t, "..data/config.yaml", path)
	calls := watch(t, path, Options{})

	swapSymlink(t, "..2026_03_20_02_00_00.000000002", filepath.Join(dir, "..data"))
	os.RemoveAll(filepath.Join(dir, "..2026_03_20_01_00_00.000000001"))
	waitCall(t, calls, "the ..data swap")
}

func TestReloadWatchSymlinkTargetElsewhere(t *testing.T) {
	etc, repo := t.TempDir(), t.TempDir()
	target := filepath.Join(repo, "auditfwd.yaml")
	write(t, target, "v: 1\n")
	path := filepath.Join(etc, "config.yaml")
	symlink(t, target, path)
	calls := watch(t, path, Options{})

	renameOver(t, target, "v: 2\n") // git checkout, an editor in the repository
	waitCall(t, calls, "a rename over the symlink's target in another directory")
	write(t, target, "v: 3\n")
	waitCall(t, calls, "a write to the symlink's target")

	// Re-pointing the symlink moves the watch to the new target's directory.
	other := t.TempDir()
	target2 := filepath.Join(other, "auditfwd.yaml")
	write(t, target2, "v: 4\n")
	swapSymlink(t, target2, path)
	waitCall(t, calls, "re-pointing the symlink")
	write(t, target2, "v: 5\n")
	waitCall(t, calls, "a write to the new target")
}

func TestReloadWatchRecheckWithoutEvents(t *testing.T) {
	// A symlink hop the watch does not follow (a "current" link in another
	// directory): only the periodic re-check sees the swap.
	etc, repo := t.TempDir(), t.TempDir()
	for _, r := range []string{"r1", "r2"} {
		if err := os.Mkdir(filepath.Join(repo, r), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(repo, r, "config.yaml"), "release: "+r+"\n")
	}
	symlink(t, "r1", filepath.Join(repo, "current"))
	path := filepath.Join(etc, "config.yaml")
	symlink(t, filepath.Join(repo, "current", "config.yaml"), path)
	calls := watch(t, path, Options{Recheck: 200 * time.Millisecond})

	noCall(t, calls, "nothing changed (re-checks only)")
	swapSymlink(t, "r2", filepath.Join(repo, "current"))
	waitCall(t, calls, "a swap only the re-check can see")
}

func TestReloadWatchDirectoryThroughSymlink(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "etc-auditfwd")
	symlink(t, real, link)
	path := filepath.Join(link, "config.yaml")
	write(t, path, "v: 1\n")
	calls := watch(t, path, Options{})
	renameOver(t, path, "v: 2\n")
	waitCall(t, calls, "a rename in a directory reached through a symlink")
	write(t, filepath.Join(real, "config.yaml"), "v: 3\n")
	waitCall(t, calls, "a write through the real path")
}

// With a shared watcher whose directories another user holds too, the
// config watch still sees every change, and moving its watch off a
// directory (re-pointing the symlink) leaves the other user's events there.
func TestReloadWatchSharedWatcher(t *testing.T) {
	hub, err := fswatch.New()
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	etc, repo := t.TempDir(), t.TempDir()
	target := filepath.Join(repo, "auditfwd.yaml")
	write(t, target, "v: 1\n")
	path := filepath.Join(etc, "config.yaml")
	symlink(t, target, path)

	other := hub.Subscribe()
	defer other.Close()
	for _, d := range []string{etc, repo} {
		if err := other.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	marks := make(chan string, 1000)
	go func() {
		for {
			select {
			case ev, ok := <-other.Events():
				if !ok {
					return
				}
				marks <- ev.Name
			case _, ok := <-other.Errors():
				if !ok {
					return
				}
			}
		}
	}()
	waitMark := func(name string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case got := <-marks:
				if got == name {
					return
				}
			case <-deadline:
				t.Fatalf("the other user saw no event on %s", name)
			}
		}
	}

	calls := watch(t, path, Options{Watch: hub})
	renameOver(t, target, "v: 2\n")
	waitCall(t, calls, "a rename over the symlink's target")
	write(t, path, "v: 3\n")
	waitCall(t, calls, "a write through the symlink")

	target2 := filepath.Join(t.TempDir(), "auditfwd.yaml")
	write(t, target2, "v: 4\n")
	swapSymlink(t, target2, path)
	waitCall(t, calls, "re-pointing the symlink")
	write(t, target2, "v: 5\n")
	waitCall(t, calls, "a write to the new target")
	write(t, filepath.Join(repo, "mark"), "")
	waitMark(filepath.Join(repo, "mark"))
}
