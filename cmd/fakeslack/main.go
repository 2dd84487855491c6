// Command fakeslack runs the fake Slack that auditfwd's tests use, for
// people: start it, point auditfwd at it (examples/local.yaml does), and
// watch every message auditfwd posts, printed in readable form. It serves
// the Web API methods auditfwd calls and the OAuth authorize page, so the
// admin page's Connect to Slack works against it too. Nothing leaves the
// machine. See the README's local run.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fakeslack:", err)
		os.Exit(1)
	}
}

// channels of the fake workspace; the bot is a member of each.
var channels = []struct{ id, name string }{
	{"C0SECURITY1", "security"},
	{"C0INFRA0001", "infrastructure"},
	{"C0DEPLOY001", "deploy-approvals"},
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fakeslack", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8091", "address to serve on (host:port)")
	botToken := fs.String("token", "xoxb-local-fake", "the bot token it accepts (give it to auditfwd as SLACK_BOT_TOKEN)")
	extra := fs.String("channels", "", "more public channels, comma-separated names (the bot is a member)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s, err := fakeslack.Listen(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	s.AddToken(*botToken)
	names := map[string]string{}
	all := channels
	for i, n := range strings.Split(*extra, ",") {
		if n = strings.TrimPrefix(strings.TrimSpace(n), "#"); n != "" {
			all = append(all, struct{ id, name string }{fmt.Sprintf("C0EXTRA%04d", i+1), n})
		}
	}
	var listed []string
	for _, c := range all {
		s.AddChannel(c.id, c.name, true)
		names[c.id] = "#" + c.name
		listed = append(listed, "#"+c.name)
	}
	fmt.Fprintf(out, "fake Slack, nothing leaves this machine\n")
	fmt.Fprintf(out, "  slack.api_url:       %s\n", s.URL)
	fmt.Fprintf(out, "  slack.authorize_url: %s (any client ID and secret are accepted)\n", s.AuthorizeURL())
	fmt.Fprintf(out, "  bot token:           %s (SLACK_BOT_TOKEN)\n", *botToken)
	fmt.Fprintf(out, "  channels:            %s (the bot is in each)\n", strings.Join(listed, " "))
	fmt.Fprintf(out, "waiting for messages; Ctrl-C stops\n")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	watch(ctx, s, names, out)
	return nil
}

// watch prints every accepted message and every failed request as they
// come, until ctx is done.
func watch(ctx context.Context, s *fakeslack.Server, names map[string]string, out io.Writer) {
	posts, attempts := 0, 0
	for {
		seen, err := s.WaitPostsFunc(ctx, func(p []fakeslack.Post) bool {
			return len(p) > posts || finished(s.Attempts(""), attempts) > attempts
		})
		if err != nil {
			return
		}
		for _, p := range seen[posts:] {
			fmt.Fprint(out, Readable(p, names))
		}
		posts = len(seen)
		as := s.Attempts("")
		done := finished(as, attempts)
		for _, a := range as[attempts:done] {
			if line := attemptLine(a, names); line != "" {
				fmt.Fprintln(out, line)
			}
		}
		attempts = done
	}
}

// finished is the index after the last request, from from on, that has
// been answered without a request still open before it.
func finished(as []fakeslack.Attempt, from int) int {
	for from < len(as) && (as[from].Status != 0 || as[from].Error != "") {
		from++
	}
	return from
}

var unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// Readable is a posted message as a person reads it: a rule with the
// channel and the time, then the message's text (what Slack's
// notifications show), entities decoded.
func Readable(p fakeslack.Post, names map[string]string) string {
	ch := names[p.Channel]
	if ch == "" {
		ch = p.Channel
	}
	head := fmt.Sprintf("── %s %s ", ch, p.Time.Format("15:04:05"))
	head += strings.Repeat("─", max(3, 60-len([]rune(head))))
	return head + "\n" + unescape.Replace(p.Text) + "\n\n"
}

// attemptLine is one line about a request worth knowing about: a refusal,
// or an OAuth install. Accepted posts are printed by Readable.
func attemptLine(a fakeslack.Attempt, names map[string]string) string {
	ch := a.Channel
	if n := names[ch]; n != "" {
		ch = n
	}
	switch {
	case a.Error == "client_gone":
		return ""
	case a.Error != "":
		if ch != "" {
			return fmt.Sprintf("✗ %s to %s: %s (HTTP %d)", a.Method, ch, a.Error, a.Status)
		}
		return fmt.Sprintf("✗ %s: %s (HTTP %d)", a.Method, a.Error, a.Status)
	case a.Method == "oauth.v2.access":
		return "✓ oauth.v2.access: installed in Fake Workspace; a new bot token was issued"
	}
	return ""
}
