// Command fakeslack runs the fake Slack that auditfwd's tests use, for
// people: start it, point auditfwd at it (examples/local.yaml does), and
// watch every message auditfwd posts, printed in readable form, thread
// replies under their parent and edits as edits. It serves the Web API
// methods auditfwd calls and the OAuth authorize page, so the admin page's
// Connect to Slack works against it too. Nothing leaves the machine. See
// the README's local run (scripts/local-run.sh).
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

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeslack:", err)
		os.Exit(1)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fakeslack", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8091", "address to serve on (host:port); with -config, the one its slack.api_url names")
	botToken := fs.String("token", "xoxb-local-fake", "the bot token it accepts (give it to auditfwd as SLACK_BOT_TOKEN)")
	configPath := fs.String("config", "", "an auditfwd config: every Slack channel it names, and its deploy approval channel, exists with the bot in it")
	extra := fs.String("channels", "", "more public channels, comma-separated names (the bot is a member)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	listenSet := false
	fs.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })

	chans := defaultChannels()
	if *configPath != "" {
		cfg, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		chans = configChannels(cfg)
		if !listenSet {
			if *listen, err = apiAddr(cfg); err != nil {
				return err
			}
		}
	}
	chans = addChannels(chans, strings.Split(*extra, ","))

	s, err := fakeslack.Listen(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	s.AddToken(*botToken)
	names := map[string]string{}
	var listed []string
	for _, c := range chans {
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
	watch(ctx, s, names, out)
	return nil
}

// watch prints every accepted message and edit, and every failed request,
// as they come, until ctx is done.
func watch(ctx context.Context, s *fakeslack.Server, names map[string]string, out io.Writer) {
	p := newPrinter(out, names)
	posts, edits, attempts := 0, 0, 0
	for {
		_, err := s.WaitPostsFunc(ctx, func([]fakeslack.Post) bool {
			ps, es := s.Accepted()
			return len(ps) > posts || len(es) > edits || finished(s.Attempts(""), attempts) > attempts
		})
		if err != nil {
			return
		}
		ps, es := s.Accepted()
		p.messages(ps[posts:], es[edits:])
		posts, edits = len(ps), len(es)
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

// attemptLine is one line about a request worth knowing about: a refusal,
// or an OAuth install. Accepted messages are printed by the printer.
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
