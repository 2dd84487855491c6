// Command auditfwd forwards Rack Gateway audit events to Slack. See README.md.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/auditfwd/auditfwd/internal/buildinfo"
	"github.com/auditfwd/auditfwd/internal/config"
)

type command struct {
	name    string
	summary string
	run     func(env *cliEnv, args []string) error
}

var commands = []command{
	{"run", "the daemon (--dry-run prints the messages it would send)", cmdRun},
	{"check", "validate the config (--strict: warnings fail too)", cmdCheck},
	{"route", "show where actions (or audit lines on stdin) go; --diff OLD.yaml", cmdRoute},
	{"test", "send the test notification to channel NAME", cmdTest},
	{"redeliver", "re-send dead-lettered events", cmdRedeliver},
	{"channels", "list the Slack channels the bot can see", cmdChannels},
	{"manifest", "print the Slack app manifest", cmdManifest},
	{"version", "print the version, commit, build date and Go version", cmdVersion},
}

// cliEnv is what a command may touch: no globals, so tests can run commands in-process.
type cliEnv struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// exitError carries an exit code other than 1 (or a failure already reported).
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func main() {
	env := &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	os.Exit(runCLI(env, os.Args[1:]))
}

func runCLI(env *cliEnv, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(env, args[1:])
		if err == nil {
			return 0
		}
		var ee *exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintf(env.stderr, "auditfwd %s: %s\n", c.name, ee.msg)
			}
			return ee.code
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		// One line: a multi-line config error stays readable as file:line lines.
		fmt.Fprintf(env.stderr, "auditfwd %s: %s\n", c.name, err)
		return 1
	}
	fmt.Fprintf(env.stderr, "auditfwd: unknown command %q\n", args[0])
	usage(env.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: auditfwd <command> [--config FILE] [args]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "The config defaults to %s; AUDITFWD_CONFIG or --config override it.\n", config.DefaultPath)
}

// flags is a FlagSet with the --config flag every command takes.
func flags(env *cliEnv, name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("auditfwd "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	def := config.DefaultPath
	if v := os.Getenv("AUDITFWD_CONFIG"); v != "" {
		def = v
	}
	path := fs.String("config", def, "config file")
	return fs, path
}

// parse parses flags anywhere among the arguments and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: l}
	if os.Getenv("JOURNAL_STREAM") != "" {
		// journald stamps each line itself.
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func cmdVersion(env *cliEnv, args []string) error {
	fmt.Fprint(env.stdout, buildinfo.Get())
	return nil
}
