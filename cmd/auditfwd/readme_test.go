package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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

// The README's local run, as a person types it: the test runs the
// block's first three commands as written (start the fake, start the
// daemon, append a line) and reads what the fourth (tail -f) would show:
// the message, arrived at the fake. The fifth (kill %1 %2, which signals
// each job's process group in an interactive shell) is done by signalling
// the process group of the shell that ran them.
//
// The README's files under /tmp and its fixed addresses are the reader's:
// the test moves them into its own temporary directory and onto free ports
// (the /tmp paths and examples/local.yaml's addresses are replaced, the
// fake is told its address with -listen), so that it neither leaves state
// a later local run would resume from nor meets a local run going on.
func TestREADMELocalRun(t *testing.T) {
	t.Parallel()
	cmds := readmeLocalRun(t)
	if len(cmds) != 5 || !strings.HasPrefix(cmds[0], "go run ./cmd/fakeslack ") || !strings.Contains(cmds[1], "go run ./cmd/auditfwd run --config examples/local.yaml") ||
		!strings.HasPrefix(cmds[2], "echo '") || !strings.HasPrefix(cmds[3], "tail -f ") || cmds[4] != "kill %1 %2" {
		t.Fatalf("the README's local run is not the five commands this test follows (fake, daemon, append, tail -f, kill):\n%s", strings.Join(cmds, "\n"))
	}

	dir := t.TempDir()
	example, err := os.ReadFile("../../examples/local.yaml")
	if err != nil {
		t.Fatal(err)
	}
	slackAddr, metricsAddr, adminAddr := testenv.FreeAddr(t), testenv.FreeAddr(t), testenv.FreeAddr(t)
	mover := func(path, slack, metrics, admin string) *strings.Replacer {
		return strings.NewReplacer("/tmp/auditfwd-local", path,
			"127.0.0.1:8091", slack, "127.0.0.1:9465", metrics, "127.0.0.1:8090", admin)
	}
	moved := mover(filepath.Join(dir, "auditfwd-local"), slackAddr, metricsAddr, adminAddr).Replace(string(example))
	rest := mover("", "", "", "").Replace(string(example))
	for _, fixed := range []string{"/tmp/", ":8091", ":9465", ":8090"} {
		if strings.Contains(rest, fixed) {
			t.Fatalf("examples/local.yaml names %s in a way this test does not move:\n%s", fixed, example)
		}
	}
	localYAML := filepath.Join(dir, "local.yaml")
	if err := os.WriteFile(localYAML, []byte(moved), 0o644); err != nil {
		t.Fatal(err)
	}
	move := strings.NewReplacer("/tmp/auditfwd-local", filepath.Join(dir, "auditfwd-local"),
		"examples/local.yaml", localYAML, "go run ./cmd/fakeslack ", "go run ./cmd/fakeslack -listen "+slackAddr+" ")
	for i, c := range cmds {
		if strings.Contains(strings.ReplaceAll(c, "/tmp/auditfwd-local", ""), "/tmp/") {
			t.Fatalf("the README's command writes to a /tmp path this test does not move: %s", c)
		}
		cmds[i] = move.Replace(c)
	}
	shown := strings.TrimPrefix(cmds[3], "tail -f ")
	cfg, err := config.Load(localYAML)
	if err != nil {
		t.Fatal(err)
	}

	sh := exec.Command("bash", "-e", "-c", strings.Join(cmds[:3], "\n"))
	sh.Dir = "../.."
	sh.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A shell of someone who has set nothing up, whose temporary files (go
	// run's build directories, left behind when kill stops it) are the
	// test's.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "SLACK_") && !strings.HasPrefix(k, "AUDITFWD_") && k != config.EnvCredentialsDir && k != "TMPDIR" {
			sh.Env = append(sh.Env, kv)
		}
	}
	sh.Env = append(sh.Env, "TMPDIR="+dir)
	// A file, not a pipe: the background jobs keep the shell's output open
	// after it exits, and a pipe would be waited for until they end.
	out, err := os.Create(filepath.Join(dir, "shell-output"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sh.Stdout, sh.Stderr = out, out
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := sh.Process.Pid
	addrs := []string{slackAddr, metricsAddr, adminAddr}
	t.Cleanup(func() {
		// kill %1 %2: both jobs and what they started stop, and the addresses are free again.
		syscall.Kill(-pgid, syscall.SIGTERM)
		deadline := time.Now().Add(20 * time.Second)
		for _, a := range addrs {
			for time.Now().Before(deadline) {
				c, err := net.Dial("tcp", a)
				if err != nil {
					break
				}
				c.Close()
				time.Sleep(100 * time.Millisecond) // polling: are the processes gone
			}
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		if t.Failed() {
			for _, p := range []string{shown, filepath.Join(dir, "auditfwd-local-daemon.log")} {
				b, _ := os.ReadFile(p)
				t.Logf("%s:\n%s", p, b)
			}
		}
	})
	if err := sh.Wait(); err != nil {
		b, _ := os.ReadFile(out.Name())
		t.Fatalf("the README's commands: %v\n%s", err, b)
	}

	// What tail -f shows, once both have compiled and started.
	var got string
	testenv.Eventually(t, 5*time.Minute, "the message in "+shown, func() bool {
		b, _ := os.ReadFile(shown)
		got = string(b)
		return strings.Contains(got, "User: mallory@example.net")
	})
	want := "\n🚨 login.oauth_failed\nUser: mallory@example.net\nStatus: failed\nTime: 2026-03-20T01:13:02Z\n\n"
	if !strings.Contains(got, "slack.api_url:       "+cfg.Slack.APIURL) || !strings.Contains(got, "── #security ") ||
		!strings.Contains(got, want) || strings.Count(got, "── #") != 1 {
		t.Errorf("%s shows:\n%s\nwant the API URL and one message to #security:%s", shown, got, want)
	}
}
