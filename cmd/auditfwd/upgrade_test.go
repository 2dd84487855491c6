package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// unstampedRelease is the last commit whose state_dir has no layout stamp
// (layout 1): what an upgrade from the previous release starts from.
const unstampedRelease = "820d514"

// buildFromHistory builds cmd/auditfwd as it was at commit, from this
// repository's own history (CI clones it whole).
func buildFromHistory(t *testing.T, commit string) string {
	t.Helper()
	root := testenv.ModuleRoot(t)
	if out, err := exec.Command("git", "-C", root, "cat-file", "-e", commit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("commit %s is not in this clone's history (%v %s); the upgrade test builds the daemon as it was then: "+
			"use a full clone (git fetch --unshallow)", commit, err, out)
	}
	src, bin := t.TempDir(), filepath.Join(t.TempDir(), "auditfwd-"+commit)
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, commit, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", commit, err, out)
	}
	start := time.Now()
	// The release build's flags (-trimpath, no cgo): the dependencies come
	// from Go's cache, compiled by `make release`, and the same source gives
	// the same cache keys wherever it is unpacked, so later runs take the
	// whole build from the cache.
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/auditfwd")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build at %s: %v\n%s", commit, err, out)
	}
	t.Logf("built auditfwd at %s in %v", commit, time.Since(start).Round(time.Second))
	return bin
}

// upgradeChannels, with testenv's config and alertsOn, uses only keys
// both versions know (the old one refuses unknown keys).
const upgradeChannels = `
  - name: security
    slack_channel: "#security"
    actions: [login.complete]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions: [release.promote]
`

// An upgrade from the unstamped layout: the old daemon queues events while
// Slack is down and stops (SIGTERM, or a crash), more events are written
// while no daemon runs, and the new daemon on the same state_dir delivers
// every one exactly once, in order, with the deploy approval's reply in
// the thread the old daemon opened. Swept over how much the old daemon had
// delivered and how it stopped.
func TestUpgradeFromUnstampedLayoutDeliversEveryEventOnce(t *testing.T) {
	t.Parallel()
	old := buildFromHistory(t, unstampedRelease)
	const queued, whileStopped = 60, 15
	for _, tc := range []struct {
		name      string
		delivered int // security events the old daemon delivers before Slack goes down
		crash     bool
	}{
		{"nothing delivered, SIGTERM", 0, false},
		{"some delivered, SIGTERM", 10, false},
		{"nothing delivered, kill -9", 0, true},
		{"some delivered, kill -9", 10, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSlack(t)
			d := newDaemon(t, s, testenv.Options{Channels: upgradeChannels, Extra: alertsOn})
			d.Bin = old
			d.Start()

			// Slack up: the approval's parent and the first events arrive.
			d.Append(create(42, 900))
			for i := range tc.delivered {
				d.Append(testenv.Event("login.complete", i))
			}
			waitEvents(t, s, idDeploy, 900, 901, 20*time.Second)
			if tc.delivered > 0 {
				waitEvents(t, s, idSecurity, 0, tc.delivered, 20*time.Second)
			}

			// Slack down: everything else waits in the old daemon's spools.
			s.SetMode(fakeslack.ModeError500)
			var lines []string
			for i := tc.delivered; i < queued; i++ {
				lines = append(lines, testenv.Event("login.complete", i), testenv.Event("release.promote", 1000+i))
			}
			lines = append(lines, lifecycle("approve", 42, alice, 901, map[string]string{"notes": "LGTM"}))
			d.Append(lines...)
			testenv.Eventually(t, 30*time.Second, "the old daemon queued every event", func() bool {
				sec, _ := d.Metric("auditfwd_queue_events", "channel=security")
				infra, _ := d.Metric("auditfwd_queue_events", "channel=infrastructure")
				deploy, _ := d.Metric("auditfwd_queue_events", "channel=deploy_approval_alerts")
				return int(sec) == queued-tc.delivered && int(infra) == queued-tc.delivered && deploy == 1
			})
			if tc.crash {
				d.Kill()
			} else {
				stop(t, d)
			}
			if _, err := os.Stat(filepath.Join(d.StateDir, statedir.LayoutFile)); err == nil {
				t.Fatalf("the old daemon wrote a layout stamp: it is not the unstamped release")
			}

			// Written while no daemon runs: read from the old checkpoint.
			lines = nil
			for i := queued; i < queued+whileStopped; i++ {
				lines = append(lines, testenv.Event("login.complete", i), testenv.Event("release.promote", 1000+i))
			}
			d.Append(lines...)

			// The new daemon, Slack back.
			s.SetMode(fakeslack.ModeOK)
			d.Bin = testenv.Binary(t)
			d.Start()
			end := queued + whileStopped
			waitEvents(t, s, idSecurity, 0, end, 60*time.Second)
			waitEvents(t, s, idInfra, 1000+tc.delivered, 1000+end, 60*time.Second)
			waitEvents(t, s, idDeploy, 900, 902, 60*time.Second)
			assertExactlyOnce(t, s, idSecurity, 0, end)
			assertExactlyOnce(t, s, idInfra, 1000+tc.delivered, 1000+end)
			assertExactlyOnce(t, s, idDeploy, 900, 902)

			parents := parentsOf(s, idDeploy, 42)
			if len(parents) != 1 {
				t.Fatalf("request 42 has %d parents, want the one the old daemon posted", len(parents))
			}
			replies := s.Replies(idDeploy, parents[0].TS)
			if len(replies) != 1 || !strings.Contains(replies[0].Text, testenv.Marker(901)) {
				t.Errorf("the approve is not a reply in the old daemon's thread: %+v", replies)
			}
			testenv.Eventually(t, 20*time.Second, "the new daemon edited the old parent", func() bool {
				m, _ := s.Message(idDeploy, parents[0].TS)
				return strings.Contains(m.Text, "approved by Alice Admin")
			})

			var st struct {
				Layout    int    `json:"layout"`
				StampedBy string `json:"stamped_by"`
			}
			data, err := os.ReadFile(filepath.Join(d.StateDir, statedir.LayoutFile))
			if err != nil || json.Unmarshal(data, &st) != nil || st.Layout != statedir.CurrentLayout {
				t.Errorf("layout stamp after the upgrade: %s (%v), want layout %d", data, err, statedir.CurrentLayout)
			}
			for _, bad := range []string{"unusable", "corrupt", "level=ERROR"} {
				if strings.Contains(d.Output(), bad) {
					t.Errorf("the upgrade logged %q:\n%s", bad, grepOutput(d.Output(), bad))
				}
			}
		})
	}
}

// A state_dir written by a newer auditfwd is refused at start, with what to
// do, and left as it was.
func TestNewerStateDirLayoutIsRefused(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	d.Append(testenv.Event("login.complete", 1))
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	stop(t, d)
	stampPath := filepath.Join(d.StateDir, statedir.LayoutFile)
	newer := fmt.Sprintf(`{"layout":%d,"stamped_by":"9.9.9"}`+"\n", statedir.CurrentLayout+1)
	if err := os.WriteFile(stampPath, []byte(newer), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := d.Run("run")
	if code != 1 {
		t.Fatalf("auditfwd run on a newer layout: exit %d, want 1\n%s", code, stderr)
	}
	want := fmt.Sprintf("auditfwd run: state_dir %s holds layout %d (stamped by auditfwd \"9.9.9\"), but this auditfwd knows layouts up to %d: ",
		d.StateDir, statedir.CurrentLayout+1, statedir.CurrentLayout)
	if !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr %q, want one line starting %q", stderr, want)
	}
	if got, _ := os.ReadFile(stampPath); string(got) != newer {
		t.Errorf("the stamp changed: %q", got)
	}
}

func grepOutput(out, substr string) string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, substr) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}
