package main

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/testenv"
)

// hostileEvent is a failed login whose values try every disguise the probe
// found: NEL, a right-to-left override and zero-width characters, Slack
// formatting, a fake "Status: success" pushed onto a line of its own by a
// long run of spaces, a link, and a terminal escape sequence.
func hostileEvent(n int) string {
	v := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	return `{"action":"login.oauth_failed","status":"failed","ts":"` + time.Now().UTC().Format(time.RFC3339) + `"` +
		`,"resource":"` + testenv.Marker(n) + `"` +
		`,"user_email":` + v("mallory@example.net\u0085Status: success\u202eexe.gnp\u200b\u2060\ufeff") +
		`,"user_agent":` + v("*approved* _by_ ~nobody~ `rm -rf` ```x```") +
		`,"details":` + v("{\"reason\":\"ok"+strings.Repeat(" ", 400)+"Status: success <https://evil.example|bank> \x1b]8;;https://evil.example\x07click\x1b]8;;\x07\"}") +
		`}`
}

// No value can disguise itself in Slack: control, bidi and zero-width
// characters arrive as visible escapes, formatting characters cannot
// format, no value starts a line or makes a link, and Slack is told not to
// link bare URLs (verbatim).
func TestNoValueCanDisguiseItselfInSlack(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	d := newDaemon(t, s, testenv.Options{})
	d.Append(hostileEvent(1))
	d.Start()
	waitEvents(t, s, idSecurity, 1, 2, 20*time.Second)
	var post string
	for _, p := range s.Posts() {
		if p.Channel == idSecurity {
			post = p.AllText()
			if !strings.Contains(string(p.Blocks), `"verbatim":true`) || strings.Contains(string(p.Blocks), `"verbatim":false`) {
				t.Errorf("a mrkdwn object without verbatim: Slack would link bare URLs:\n%s", p.Blocks)
			}
		}
	}
	// auditfwd's own date token is the one <! a message may hold.
	post = regexp.MustCompile(`<!date\^\d+\^[^|>]*\|[^>]*>`).ReplaceAllString(post, "DATE")
	for _, bad := range []string{"\u0085", "\u202e", "\u200b", "\u2060", "\ufeff", "\x1b", "\x07",
		"*approved*", "_by_", "~nobody~", "`rm -rf`", "```", "  ", "<https://", "<!"} {
		if strings.Contains(post, bad) {
			t.Errorf("%q reached Slack:\n%s", bad, post)
		}
	}
	for _, want := range []string{`\u0085`, `\u202e`, `\u200b`, `\u2060`, `\ufeff`, `\u001b`, "∗approved∗", "ˍbyˍ", "∼nobody∼", "ˋrm -rfˋ", "&lt;https://evil.example|bank&gt;"} {
		if !strings.Contains(post, want) {
			t.Errorf("%q is not shown:\n%s", want, post)
		}
	}
	for _, line := range strings.Split(post, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, "*"), "Status:") && !strings.Contains(line, "failed") {
			t.Errorf("a value made a line of its own: %q", line)
		}
	}
}

// The CLI prints values from the log and from Slack with terminal control
// characters escaped: `route` (the action of an audit line), the dry run's
// text, and `channels` (a channel name from a hostile Slack API).
func TestCLIPrintsForeignTextAsData(t *testing.T) {
	t.Parallel()
	s := newSlack(t)
	s.AddChannel("C0HOSTILE1", "ops\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\u202e", true)
	d := newDaemon(t, s, testenv.Options{})
	d.Append(hostileEvent(1))
	d.Append(`{"action":"login.complete\u001b[2J\u001b]0;owned\u0007","status":"success"}`)

	check := func(what, out string) {
		t.Helper()
		for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u0085", "\u009b"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s printed %q raw:\n%q", what, bad, out)
			}
		}
	}
	stdin := hostileEvent(2) + "\n" + `{"action":"login.complete\u001b[2J\u001b]0;owned\u0007","status":"success"}` + "\n"
	cmd := exec.Command(d.Bin, "route", "--explain", "--config", d.ConfigPath)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("route: %v\n%s", err, out)
	}
	check("route", string(out))
	if !strings.Contains(string(out), `\x1b[2J`) {
		t.Errorf("route does not show the escape sequence as text:\n%s", out)
	}

	stdout, stderr, code := d.Run("run", "--dry-run", "--format", "text")
	if code != 0 {
		t.Fatalf("dry run: exit %d\n%s", code, stderr)
	}
	check("the dry run", stdout+stderr)

	stdout, stderr, code = d.Run("channels")
	if code != 0 {
		t.Fatalf("channels: exit %d\n%s", code, stderr)
	}
	check("channels", stdout+stderr)
	if !strings.Contains(stdout, `\x1b]8;;https://evil.example\aclick`) {
		t.Errorf("channels does not show the hostile name as text:\n%s", stdout)
	}
}
