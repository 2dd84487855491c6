package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/testenv"
)

const localRunMarker = "<!-- local-run:"

// readmeLocalRun returns the commands of the README's local-run block: the
// indented lines after the marker comment.
func readmeLocalRun(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmds []string
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		switch {
		case !found:
			found = strings.HasPrefix(l, localRunMarker)
		case strings.HasPrefix(l, "    "):
			cmds = append(cmds, strings.TrimPrefix(l, "    "))
		case l == "" && len(cmds) == 0:
		default:
			return cmds
		}
	}
	if !found {
		t.Fatalf("README.md has no %q block", localRunMarker)
	}
	return cmds
}

// The README's local run, followed literally from a program: the block's
// first command (scripts/local-run.sh) runs in the background as in the
// first shell, the others (appending audit events) as in the second, and
// the script's output shows what a person would see: the message, and the
// sample's deploy approval request as one thread. Then the script is
// stopped the ways a run ends — a kill of the script alone (from a script
// or a supervisor), Ctrl-C (SIGINT to the terminal's process group), the
// daemon dying, a port already taken — and each time no process is left
// behind, no port held, the state lock free.
//
// Each run has a directory of its own, which the README's
// /tmp/auditfwd-local stands for (AUDITFWD_LOCAL_DIR), and free ports
// (AUDITFWD_LOCAL_CONFIG: examples/local.yaml with other ports), so the
// test runs beside a person's local run and beside itself.
func TestREADMELocalRun(t *testing.T) {
	t.Parallel()
	cmds := readmeLocalRun(t)
	var appends []string
	for _, c := range cmds[min(1, len(cmds)):] {
		if !strings.HasPrefix(c, "#") {
			appends = append(appends, c)
		}
	}
	script, err := os.ReadFile("../../scripts/local-run.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^dir=\$\{AUDITFWD_LOCAL_DIR:-(\S+)\}$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/local-run.sh names no default directory (dir=${AUDITFWD_LOCAL_DIR:-…})")
	}
	defaultDir := string(m[1])
	logFile := defaultDir + "/audit.log"
	if len(cmds) == 0 || cmds[0] != "scripts/local-run.sh" || len(appends) != 2 ||
		!strings.HasSuffix(appends[0], "' >> "+logFile) || appends[1] != "grep deploy_approval_request examples/audit.log >> "+logFile {
		t.Fatalf("the README's local run is not what this test follows (scripts/local-run.sh, then an echo and a grep appending to %s):\n%s", logFile, strings.Join(cmds, "\n"))
	}

	t.Run("kill", func(t *testing.T) {
		r := startLocalRun(t, "")
		// The second shell's commands, once the script says where to append.
		testenv.Eventually(t, 2*time.Minute, "the script's word to append", func() bool {
			return strings.Contains(r.output(), "append audit lines to "+filepath.Join(r.dir, "audit.log"))
		})
		for _, c := range appends {
			sh := exec.Command("bash", "-e", "-c", strings.ReplaceAll(c, defaultDir, r.dir))
			sh.Dir = "../.."
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", c, err, out)
			}
		}
		var got string
		testenv.Eventually(t, 2*time.Minute, "the message and the request's thread in the script's output", func() bool {
			got = r.output()
			return strings.Contains(got, "User: mallory@example.net") && strings.Contains(got, "    │ 🚀 deploy_approval_request.expired\n")
		})
		if !strings.Contains(got, "\n🚨 login.oauth_failed\nUser: mallory@example.net\nStatus: failed\nTime: 2026-03-20T01:13:02Z\n\n") ||
			strings.Count(got, "── #security ") != 1 {
			t.Errorf("the script shows:\n%s\nwant one message to #security", got)
		}
		// One thread: one parent, edited to the request's latest state, and
		// each later step in a reply under a line that names the parent.
		parent := `\d\d:\d\d:\d\d “🚀 Deploy approval request 42: pending approval”`
		for _, want := range []string{
			`(?m)^── #deploy-approvals \d\d:\d\d:\d\d ─+\n🚀 Deploy approval request 42: pending approval\n`,
			`(?m)^── #deploy-approvals \d\d:\d\d:\d\d ✎ edit of ` + parent + ` ─+\n🚀 Deploy approval request 42: expired`,
		} {
			if !regexp.MustCompile(want).MatchString(got) {
				t.Errorf("the script's output does not match %s:\n%s", want, got)
			}
		}
		if n := regexp.MustCompile(`(?m)^── #deploy-approvals \d\d:\d\d:\d\d ─`).FindAllString(got, -1); len(n) != 1 {
			t.Errorf("%d messages in #deploy-approvals' channel, want the one parent:\n%s", len(n), got)
		}
		replies := regexp.MustCompile(`(?m)^    ↳ reply \d\d:\d\d:\d\d in #deploy-approvals, in the thread of `+parent+`\n(    │.*\n)+`).FindAllString(got, -1)
		for _, step := range []string{"approve", "expired"} {
			if n := strings.Count(strings.Join(replies, ""), "    │ 🚀 deploy_approval_request."+step+"\n"); n != 1 {
				t.Errorf("%s is in %d replies under the parent, want 1:\n%s", step, n, got)
			}
		}
		r.signal(syscall.SIGTERM, false)
		r.wait(143)
	})
	t.Run("Ctrl-C", func(t *testing.T) {
		r := startLocalRun(t, "")
		r.waitDaemon()
		r.signal(syscall.SIGINT, true)
		r.wait(130)
	})
	t.Run("the daemon dies", func(t *testing.T) {
		r := startLocalRun(t, "")
		pid := r.waitDaemon()
		syscall.Kill(pid, syscall.SIGKILL)
		r.wait(1)
		if !strings.Contains(r.output(), "local-run: the daemon stopped by itself") {
			t.Errorf("output:\n%s", r.output())
		}
	})
	t.Run("the fake's port is taken", func(t *testing.T) {
		r := startLocalRun(t, "fake")
		r.wait(1)
		if out := r.output(); !strings.Contains(out, "local-run: the fake Slack did not start:") || !strings.Contains(out, "address already in use") {
			t.Errorf("output:\n%s", out)
		}
	})
}

// localRun is one run of scripts/local-run.sh.
type localRun struct {
	t     *testing.T
	dir   string
	cmd   *exec.Cmd
	out   string // the script's stdout and stderr
	addrs []string
}

// startLocalRun starts the script as the README does, in a directory of
// its own with free ports; taken names a listener ("fake") to occupy first.
func startLocalRun(t *testing.T, taken string) *localRun {
	example, err := os.ReadFile("../../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(example, "examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api, err := url.Parse(cfg.Slack.APIURL)
	if err != nil {
		t.Fatal(err)
	}
	r := &localRun{t: t, dir: t.TempDir()}
	ports := map[string]string{}
	for _, a := range []string{api.Host, cfg.Metrics.Listen, cfg.Admin.Listen} {
		ports[a] = testenv.FreeAddr(t)
		if !bytes.Contains(example, []byte(a)) {
			t.Fatalf("examples/local.yaml does not spell out %s", a)
		}
		example = bytes.ReplaceAll(example, []byte(a), []byte(ports[a]))
		r.addrs = append(r.addrs, ports[a])
	}
	if taken == "fake" {
		l, err := net.Listen("tcp", ports[api.Host])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		r.addrs = r.addrs[1:]
	}
	cfgPath := filepath.Join(t.TempDir(), "local.yaml")
	if err := os.WriteFile(cfgPath, example, 0o600); err != nil {
		t.Fatal(err)
	}

	r.cmd = exec.Command("bash", "-c", "scripts/local-run.sh")
	r.cmd.Dir = "../.."
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A shell of someone who has set nothing up, but the test's directory and ports.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "SLACK_") && !strings.HasPrefix(k, "AUDITFWD_") && k != config.EnvCredentialsDir {
			r.cmd.Env = append(r.cmd.Env, kv)
		}
	}
	r.cmd.Env = append(r.cmd.Env, "AUDITFWD_LOCAL_DIR="+r.dir, "AUDITFWD_LOCAL_CONFIG="+cfgPath)
	// A file, not a pipe: nothing waits for a pipe's writers to end.
	out, err := os.Create(filepath.Join(t.TempDir(), "output"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	r.out = out.Name()
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Whatever happened, nothing of this run outlives the test.
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		for _, pid := range r.processes() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(r.dir, "daemon.log"))
			t.Logf("script output:\n%s\ndaemon.log:\n%s", r.output(), b)
		}
	})
	return r
}

func (r *localRun) output() string {
	b, _ := os.ReadFile(r.out)
	return string(b)
}

// waitDaemon waits until the daemon is up (its /readyz answers 200) and
// returns its pid.
func (r *localRun) waitDaemon() int {
	var pid int
	testenv.Eventually(r.t, 2*time.Minute, "the daemon ready", func() bool {
		ps := r.processes()
		for _, p := range ps {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p)); strings.HasPrefix(string(b), filepath.Join(r.dir, "bin", "auditfwd")+"\x00") {
				pid = p
			}
		}
		resp, err := http.Get("http://" + r.addrs[1] + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return pid != 0 && resp.StatusCode == http.StatusOK
	})
	return pid
}

// signal sends sig to the script, or to its whole process group as a
// terminal's Ctrl-C does.
func (r *localRun) signal(sig syscall.Signal, group bool) {
	pid := r.cmd.Process.Pid
	if group {
		pid = -pid
	}
	if err := syscall.Kill(pid, sig); err != nil {
		r.t.Fatal(err)
	}
}

// wait waits for the script to exit with code and checks that it left
// nothing behind: no process of its group or running from its directory,
// no port held, the state directory's lock free.
func (r *localRun) wait(code int) {
	t := r.t
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("the script has not exited a minute later:\n%s", r.output())
	}
	if got := r.cmd.ProcessState.ExitCode(); got != code {
		t.Errorf("the script exited %d, want %d", got, code)
	}
	if err := syscall.Kill(-r.cmd.Process.Pid, 0); err != syscall.ESRCH {
		t.Errorf("processes of the script's group are left: %v", err)
	}
	if ps := r.processes(); len(ps) > 0 {
		t.Errorf("processes running from %s are left: %v", r.dir, ps)
	}
	for _, a := range r.addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s is still held: %v", a, err)
			continue
		}
		l.Close()
	}
	if f, err := os.OpenFile(filepath.Join(r.dir, "state", "auditfwd.lock"), os.O_RDWR, 0); err == nil {
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			t.Errorf("the state lock is still held: %v", err)
		}
		f.Close()
	}
}

// processes are the pids whose command line names the run's directory:
// the fake, the daemon and tail, whichever process group they are in.
func (r *localRun) processes() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && bytes.Contains(b, []byte(r.dir)) {
			out = append(out, pid)
		}
	}
	return out
}
