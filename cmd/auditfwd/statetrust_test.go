package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// runExits runs `auditfwd run` on d's config and waits at most bound for it
// to exit; a daemon that starts instead of refusing is killed and fails the
// test (which goes on, to check what the daemon did meanwhile).
func runExits(t *testing.T, d *testenv.Daemon, bound time.Duration) (output string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.Bin, "run", "--config", d.ConfigPath)
	cmd.Env = append(os.Environ(), d.Env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("auditfwd run did not refuse to start within %v; it ran:\n%s", bound, out.String())
		return out.String(), -1
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return out.String(), code
}

// victim is a file outside state_dir that a planted symbolic link points
// at; the test checks that it is never touched.
func victim(t *testing.T) (path, content string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "victim.conf")
	content = "precious: do not truncate\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, content
}

func checkVictim(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Errorf("the symlink's victim %s changed: %q (%v), want %q", path, got, err, want)
	}
}

// A state_dir that other users can write, or that another user owns, is
// refused at start with the command that fixes it, and left as it was.
func TestStateDirWritableByOthersIsRefusedWithTheFix(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	if err := os.Mkdir(d.StateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.StateDir, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	out, code := runExits(t, d, 20*time.Second)
	if code <= 0 || !strings.Contains(out, "chmod 0700 "+d.StateDir) {
		t.Errorf("0777 state_dir: exit %d, want non-zero with `chmod 0700 %s` in the message:\n%s", code, d.StateDir, out)
	}
	if fi, err := os.Stat(d.StateDir); err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("the refused state_dir was changed: %v %v", fi.Mode(), err)
	}

	// The fix works.
	if err := os.Chmod(d.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	d.Start()
	d.Signal(syscall.SIGTERM)

	// A directory inside it, group-writable.
	spool := filepath.Join(d.StateDir, "spool")
	if err := os.Chmod(spool, 0o770); err != nil {
		t.Fatal(err)
	}
	out, code = runExits(t, d, 20*time.Second)
	if code <= 0 || !strings.Contains(out, "chmod 0700 "+spool) {
		t.Errorf("group-writable %s: exit %d, want non-zero with its chmod:\n%s", spool, code, out)
	}
	os.Chmod(spool, 0o700)

	// Owned by another user (nobody).
	if err := os.Chown(d.StateDir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out, code = runExits(t, d, 20*time.Second)
	if code <= 0 || !strings.Contains(out, "chown ") || !strings.Contains(out, d.StateDir) {
		t.Errorf("state_dir owned by uid 65534: exit %d, want non-zero with a chown:\n%s", code, out)
	}
}

// A symbolic link planted at the lock file or at a spool segment is never
// followed: the file it points at keeps its content, and the daemon says
// which link to remove.
func TestPlantedSymlinksInStateDirAreNeverFollowed(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Append(testenv.Event("login.complete", 1))
	d.Start()
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	d.Signal(syscall.SIGTERM)

	for _, name := range []string{"auditfwd.lock", "spool/security/0000000000000001.jsonl", "checkpoint.json"} {
		t.Run(filepath.Base(name), func(t *testing.T) {
			vpath, vcontent := victim(t)
			link := filepath.Join(d.StateDir, name)
			saved, err := os.ReadFile(link)
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(link)
			if err := os.Symlink(vpath, link); err != nil {
				t.Fatal(err)
			}
			out, code := runExits(t, d, 20*time.Second)
			checkVictim(t, vpath, vcontent)
			if code <= 0 || !strings.Contains(out, link) || !strings.Contains(out, "symbolic link") {
				t.Errorf("symlink at %s: exit %d, want non-zero naming the link:\n%s", name, code, out)
			}
			os.Remove(link)
			if err := os.WriteFile(link, saved, 0o600); err != nil {
				t.Fatal(err)
			}
		})
	}

	// While running: a link planted where a channel added by a reload will
	// put its first segment.
	vpath, vcontent := victim(t)
	d.Start()
	ops := filepath.Join(d.StateDir, "spool", "ops")
	if err := os.MkdirAll(ops, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(vpath, filepath.Join(ops, "0000000000000001.jsonl")); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	d.WriteConfig(string(cfg) + "channels:\n  - name: ops\n    slack_channel: \"#ops\"\n    actions: [login.complete]\n")
	d.Signal(syscall.SIGHUP)
	testenv.Eventually(t, 20*time.Second, "the reload refused for the planted link", func() bool {
		return strings.Contains(d.Output(), "symbolic link")
	})
	d.Append(testenv.Event("login.complete", 2))
	waitEvents(t, s, idSecurity, 1, 3, 20*time.Second) // the rules in force still deliver
	checkVictim(t, vpath, vcontent)
}

// A token file that other users can read is refused, at start and when one
// appears while running, with the chmod that fixes it; once fixed, it is used.
func TestUnprotectedTokenFileIsRefusedWithTheFix(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	const planted = "xoxb-planted-by-someone-else"
	s.AddToken(planted)
	d := testenv.New(t, testenv.Options{APIURL: s.URL, Env: []string{"SLACK_BOT_TOKEN="}})
	tokenPath := filepath.Join(d.StateDir, "slack-token.json")
	d.Append(testenv.Event("login.complete", 1))
	d.Start() // no token: events are held
	if v := d.MustMetric("auditfwd_slack_connected"); v != 0 {
		t.Fatalf("connected without a token: %v", v)
	}

	// Planted while running, world-readable, as another install would be.
	data := []byte(`{"access_token":"` + planted + `","team_name":"Attacker Workspace"}` + "\n")
	if err := os.WriteFile(tokenPath+".tmp", data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tokenPath+".tmp", 0o644)
	if err := os.Rename(tokenPath+".tmp", tokenPath); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the planted token file refused in the log", func() bool {
		return strings.Contains(d.Output(), "chmod 600 "+tokenPath)
	})
	if strings.Contains(d.Output(), "Attacker Workspace") || d.MustMetric("auditfwd_slack_connected") != 0 {
		t.Fatalf("the 0644 token file was used:\n%s", d.Output())
	}
	if n := len(s.Attempts("chat.postMessage")); n != 0 {
		t.Fatalf("%d posts with the planted token", n)
	}

	// Refused at start too.
	d.Signal(syscall.SIGTERM)
	d.Start()
	testenv.Eventually(t, 10*time.Second, "the token file refused at start", func() bool {
		return strings.Count(d.Output(), "chmod 600 "+tokenPath) >= 2
	})
	if d.MustMetric("auditfwd_slack_connected") != 0 {
		t.Fatal("the 0644 token file was used at start")
	}

	// The fix: the token is used without a restart, and the held event flows.
	if err := os.Chmod(tokenPath, 0o600); err != nil {
		t.Fatal(err)
	}
	waitEvents(t, s, idSecurity, 1, 2, 30*time.Second)
}
