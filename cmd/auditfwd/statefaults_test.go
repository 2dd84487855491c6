package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
	"github.com/auditfwd/auditfwd/internal/statedir"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

// events returns testenv events n in [from,to) for login.complete (the
// default rules send it to #security).
func events(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, testenv.Event("login.complete", i))
	}
	return out
}

func stop(t *testing.T, d *testenv.Daemon) {
	t.Helper()
	if code := d.Signal(syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

// Deleting the checkpoint after a rename rotation ("start over") must not
// make the daemon take new lines for ones its spools already hold.
func TestCheckpointDeletedAfterRotationLosesNothingAfter(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{StartAt: "end"})
	d.Start()
	d.Append(events(1, 6)...)
	waitEvents(t, s, idSecurity, 1, 6, 20*time.Second)
	if err := os.Rename(d.LogPath, d.LogPath+".1"); err != nil {
		t.Fatal(err)
	}
	d.Append(events(6, 11)...)
	waitEvents(t, s, idSecurity, 6, 11, 20*time.Second)
	stop(t, d)

	if err := os.Remove(filepath.Join(d.StateDir, statedir.CheckpointFile)); err != nil {
		t.Fatal(err)
	}
	d.Start()
	d.Append(events(11, 31)...)
	waitEvents(t, s, idSecurity, 11, 31, 20*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 31)
	d.WaitMetric(20, "auditfwd_events_routed_total", "channel=security") // after the restart
}

// A checkpoint of garbage or of zero bytes (a disk fault) neither stops the
// daemon nor costs an event appended after it is ready.
func TestCorruptCheckpointStartsAndSaysSo(t *testing.T) {
	t.Parallel()
	for name, content := range map[string]string{"garbage": "\x00\x00\x17{not json", "empty": ""} {
		t.Run(name, func(t *testing.T) {
			s := newSlack(t)
			d := newDaemon(t, s, testenv.Options{StartAt: "end"})
			d.Start()
			d.Append(events(1, 4)...)
			waitEvents(t, s, idSecurity, 1, 4, 20*time.Second)
			stop(t, d)
			cp := filepath.Join(d.StateDir, statedir.CheckpointFile)
			if err := os.WriteFile(cp, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			d.Start()
			d.WaitOutput("checkpoint unusable", cp) // the log says the checkpoint was unusable, and which file
			if aside, _ := filepath.Glob(cp + ".corrupt-*"); len(aside) != 1 {
				t.Errorf("checkpoint not moved aside: %v", aside)
			}
			d.Append(events(4, 14)...)
			waitEvents(t, s, idSecurity, 4, 14, 20*time.Second)
			assertExactlyOnce(t, s, idSecurity, 1, 14)
		})
	}
}

// Power lost mid-write leaves a torn last spool record: the intact records
// are delivered once and the daemon runs on.
func TestTornSpoolRecordIntactOnesDeliveredOnce(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	s.SetMode(fakeslack.ModeError500) // Slack down: the events wait in the spool
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	d.Append(events(1, 6)...)
	testenv.Eventually(t, 20*time.Second, "5 events queued", func() bool {
		v, _ := d.Metric("auditfwd_queue_events", "channel=security")
		return v == 5
	})
	d.Kill()
	segs, _ := filepath.Glob(filepath.Join(statedir.Dir(d.StateDir).Spool("security"), "*.jsonl"))
	if len(segs) == 0 {
		t.Fatal("no spool segment")
	}
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"pos":{"gen":1,"offset":99999},"target":"#security","event":{"action":"login.comp`)
	f.Close()
	s.SetMode(fakeslack.ModeOK)
	d.Start()
	waitEvents(t, s, idSecurity, 1, 6, 20*time.Second)
	d.Append(events(6, 9)...)
	waitEvents(t, s, idSecurity, 6, 9, 20*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 9)
	d.WaitOutput("torn last record") // the torn record is reported
}

// A second `auditfwd run` on the same state_dir (other ports) exits at once,
// naming the owner's pid; every event still arrives exactly once.
func TestSecondDaemonOnSameStateDirRefused(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	other := strings.NewReplacer(d.Metrics, testenv.FreeAddr(t), d.Admin, testenv.FreeAddr(t)).Replace(string(cfg))
	otherPath := filepath.Join(d.Dir, "second.yaml")
	if err := os.WriteFile(otherPath, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Append(events(1, 11)...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Bin, "run", "--config", otherPath)
	cmd.Env = append(os.Environ(), d.Env...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() == 0 {
		t.Fatalf("second run: %v, output:\n%s", err, out)
	}
	want := fmt.Sprintf("in use by pid %d", d.Pid())
	if !strings.Contains(string(out), want) {
		t.Fatalf("second run's message %q does not say %q", out, want)
	}
	t.Logf("the second run exited %d after %v: %s", ee.ExitCode(), took.Round(time.Millisecond), strings.TrimSpace(string(out)))
	if took > 5*time.Second {
		t.Errorf("the second run took %v to give up; it must not wait", took)
	}
	d.Append(events(11, 21)...)
	waitEvents(t, s, idSecurity, 1, 21, 20*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 21)
}

// The state directory on a small tmpfs, filled while Slack is down and
// events keep coming: the daemon stays up and says so; when Slack is back it
// delivers what was queued although the disk is still full; once the filler
// is removed, every event arrives exactly once, with no restart.
func TestFullStateDirHoldsBackThenResumes(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	s.SetMode(fakeslack.ModeError500)
	d := newDaemon(t, s, testenv.Options{})
	if err := os.MkdirAll(d.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", d.StateDir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for state_dir (the tests run as root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", d.StateDir).Run() })
	d.Start()
	d.Append(events(1, 21)...)
	testenv.Eventually(t, 20*time.Second, "20 events queued", func() bool {
		v, _ := d.Metric("auditfwd_queue_events", "channel=security")
		return v == 20
	})
	filler := filepath.Join(d.StateDir, "filler")
	fillDisk(t, filler)
	pid := d.Pid()
	// Events keep coming: they cannot be queued, so they wait in the log.
	for i := 21; i < 221; i += 20 {
		d.Append(events(i, i+20)...)
	}
	testenv.Eventually(t, 30*time.Second, "auditfwd_state_dir_writable 0", func() bool {
		v, ok := d.Metric("auditfwd_state_dir_writable")
		return ok && v == 0
	})
	d.WaitOutput("no space left on device", "cannot write to the state directory") // the log says the disk is full
	if d.Pid() != pid {
		t.Fatal("the daemon restarted")
	}
	// Slack is back while the disk is still full: what was queued goes out.
	s.SetMode(fakeslack.ModeOK)
	waitEvents(t, s, idSecurity, 1, 21, 60*time.Second)
	if v, _ := d.Metric("auditfwd_state_dir_writable"); v != 0 {
		t.Fatalf("state_dir_writable = %v while the disk is still full", v)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, s, idSecurity, 1, 221, 90*time.Second)
	assertExactlyOnce(t, s, idSecurity, 1, 221)
	testenv.Eventually(t, 20*time.Second, "auditfwd_state_dir_writable 1", func() bool {
		v, _ := d.Metric("auditfwd_state_dir_writable")
		return v == 1
	})
	if d.Pid() != pid {
		t.Fatal("the daemon restarted")
	}
	d.WaitMetric(220, "auditfwd_events_routed_total", "channel=security") // each event once, however often it was read
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) { fillPages(t, path, 0) }

// Copytruncate with a writer that does not append leaves NUL padding before
// its next line: that line is delivered and counted once, as one event.
func TestNULPaddedEventDeliveredAndCountedOnce(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	d.Append(events(1, 2)...)
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	d.Append(strings.Repeat("\x00", 4096) + testenv.Event("login.complete", 2))
	waitEvents(t, s, idSecurity, 2, 3, 20*time.Second)
	testenv.Eventually(t, 10*time.Second, "two event lines counted", func() bool {
		v, _ := d.Metric("auditfwd_log_lines_total", "kind=event")
		return v == 2
	})
	if v := d.MustMetric("auditfwd_log_lines_total", "kind=malformed"); v != 0 {
		t.Errorf("malformed = %v: the padded line was counted twice", v)
	}
	assertExactlyOnce(t, s, idSecurity, 1, 3)
}

// Alerts on increase() need the series before the first event: a series
// born at 1 shows no increase.
func TestAlertSeriesExistFromStartUp(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Start()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"auditfwd_events_dead_lettered_total", []string{"channel=security", "reason=not_in_channel"}, 0},
		{"auditfwd_events_dead_lettered_total", []string{"channel=infrastructure", "reason=channel_not_found"}, 0},
		{"auditfwd_events_dead_lettered_total", []string{"channel=infrastructure", "reason=is_archived"}, 0},
		{"auditfwd_delivery_failures_total", []string{"channel=security", "reason=http_5xx"}, 0},
		{"auditfwd_delivery_failures_total", []string{"channel=security", "reason=ratelimited"}, 0},
		{"auditfwd_delivery_failures_total", []string{"channel=infrastructure", "reason=timeout"}, 0},
		{"auditfwd_events_already_queued_total", []string{"channel=security"}, 0},
		{"auditfwd_state_dir_writable", nil, 1},
		{"auditfwd_audit_log_present", nil, 0}, // the test writes the log later
	} {
		v, ok := d.Metric(c.name, c.labels...)
		if !ok || v != c.want {
			t.Errorf("%s%v = %v (present %v), want %v from start-up", c.name, c.labels, v, ok, c.want)
		}
	}
}

// dead-letter.jsonl with a torn last line (a crash mid-append): the daemon
// starts, sets the torn line aside with a log line naming the file, adds new
// dead letters after the intact ones, and redeliver sends those.
func TestTornDeadLetterLineIsSetAside(t *testing.T) {
	t.Parallel()
	s, d, deadPath := startTwoDeadLetters(t)
	stop(t, d)
	data, err := os.ReadFile(deadPath)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Index(string(data), "\n") + 1
	torn := data[:first+(len(data)-first)/2] // the second line, half written
	if err := os.WriteFile(deadPath, torn, 0o600); err != nil {
		t.Fatal(err)
	}

	d.Start()
	testenv.Eventually(t, 10*time.Second, "a log line naming the damaged file", func() bool {
		out := d.Output()
		return strings.Contains(out, "dead-letter file damaged") && strings.Contains(out, "file="+deadPath)
	})
	d.Append(events(3, 4)...)
	testenv.Eventually(t, 20*time.Second, "the third dead letter", func() bool {
		v, _ := d.Metric("auditfwd_events_dead_lettered_total", "channel=audit", "reason=channel_not_found")
		return v == 1
	})
	asides, _ := filepath.Glob(deadPath + ".corrupt-*")
	if len(asides) != 1 {
		t.Fatalf("set aside: %v, want one file", asides)
	}
	if kept, _ := os.ReadFile(asides[0]); !strings.Contains(string(kept), string(torn[first:])) {
		t.Errorf("the torn line is not kept in %s: %q", asides[0], kept)
	}
	s.AddChannel("C0AUDITNEW1", "audit-new", true)
	if out, errOut, code := d.Run("redeliver"); code != 0 || !strings.Contains(out, "redelivered 2, kept 0") {
		t.Fatalf("redeliver exit %d: %s %s", code, out, errOut)
	}
	c, _ := testenv.CountMarkers(texts(s, "C0AUDITNEW1"))
	if c[1] != 1 || c[3] != 1 || len(c) != 2 {
		t.Errorf("redelivered %v, want events 1 and 3 once each (2 was torn)", c)
	}
}
