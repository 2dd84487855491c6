package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/auditfwd/auditfwd/internal/buildinfo"
	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/daemon"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/dryrun"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/oauthsrv"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/termtext"
	"github.com/auditfwd/auditfwd/internal/token"
)

func cmdRun(env *cliEnv, args []string) error {
	fs, path := flags(env, "run")
	dryRun := fs.Bool("dry-run", false, "read the audit log from its start, print the messages it would post, a summary on stderr, and exit")
	output := fs.String("format", dryrun.FormatJSON, "with --dry-run: json (one JSON object per message) or text (one readable line per message)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log_level)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	level := cfg.LogLevel
	if *logLevel != "" {
		level = *logLevel
	}
	d, err := daemon.New(cfg, daemon.Options{Version: buildinfo.Get().Version, Logger: newLogger(env.stderr, level)})
	if err != nil {
		return err
	}
	if *dryRun {
		return d.DryRun(context.Background(), *output, env.stdout, env.stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return d.Run(ctx)
}

func cmdCheck(env *cliEnv, args []string) error {
	fs, path := flags(env, "check")
	strict := fs.Bool("strict", false, "exit 1 on warnings too (for CI and git hooks)")
	rulesOnly := fs.Bool("rules-only", false, "check the file and its rules only, not this host's secrets and placeholders (for git hooks and CI)")
	connect := fs.Bool("connect", false, "audit_log.source postgres: connect with the DSN and say what the role can and cannot read or write")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	var problems config.Errors
	if errors.As(err, &problems) {
		// Already one "file:line: message" per line.
		fmt.Fprintln(env.stderr, err)
		return &exitError{code: 1}
	}
	if err != nil {
		return err
	}
	if _, err := rules.Compile(cfg.Channels, cfg.DeployApprovalAlerts); err != nil {
		return err
	}
	render, err := delivery.NewRenderer(cfg, nil, nil)
	if err != nil {
		return err
	}
	previews, titleWarnings := titlePreviews(cfg, render)
	warnings := append(rules.Lint(cfg), titleWarnings...)
	if !*rulesOnly {
		warnings = append(warnings, placeholderWarnings(cfg)...)
	}
	for _, w := range warnings {
		fmt.Fprintln(env.stderr, w.String())
	}
	if *connect && !checkConnect(env, cfg) {
		return &exitError{code: 1, msg: "the database check failed (FAIL lines above say what to grant or fix)"}
	}
	if len(warnings) > 0 && *strict {
		return &exitError{code: 1, msg: fmt.Sprintf("%d warning(s) and --strict", len(warnings))}
	}
	for _, p := range previews {
		fmt.Fprintln(env.stdout, p)
	}
	fmt.Fprintf(env.stdout, "%s: ok (%s, %s)\n", cfg.Path, plural(len(cfg.Channels), "channel"), plural(len(warnings), "warning"))
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// slackCommand parses a Slack-talking command's arguments, loads the config
// and builds a client from the configured token.
func slackCommand(env *cliEnv, name string, args []string) (*config.Config, *slack.Client, []string, error) {
	fs, path := flags(env, name)
	pos, err := parse(fs, args)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return nil, nil, nil, err
	}
	client, err := slackClient(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return cfg, client, pos, nil
}

// slackClient builds a client from the configured token for one-shot commands.
func slackClient(cfg *config.Config) (*slack.Client, error) {
	t, ok, err := token.Resolve(cfg.BotTokenFile())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("not connected to Slack: no token in %s or SLACK_BOT_TOKEN; connect on the admin page", cfg.BotTokenFile())
	}
	return slack.New(slack.Options{APIURL: cfg.Slack.APIURL, Token: t.AccessToken}), nil
}

func cmdTest(env *cliEnv, args []string) error {
	fs, path := flags(env, "test")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &exitError{code: 2, msg: "usage: auditfwd test NAME (a channel name from the config, or deploy_approval_alerts)"}
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	target, ok := cfg.Target(pos[0])
	if !ok {
		return unknownChannel(pos[0], cfg)
	}
	client, err := slackClient(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resolver := slack.NewResolver(client.ListChannels, time.Minute)
	if err := delivery.PostTestMessage(ctx, client, resolver, target); err != nil {
		reason, hint := explain(err, target.SlackChannel)
		return fmt.Errorf("%s: %s (%s)", target.SlackChannel, reason, hint)
	}
	fmt.Fprintf(env.stdout, "test message sent to %s (%s)\n", target.SlackChannel, target.Name)
	return nil
}

func cmdRedeliver(env *cliEnv, args []string) error {
	cfg, client, _, err := slackCommand(env, "redeliver", args)
	if err != nil {
		return err
	}
	// The channel may have been fixed in the config since: use its current
	// target, and its redaction and templates, as a post would.
	resolver := slack.NewResolver(client.ListChannels, time.Minute)
	render, err := delivery.NewRenderer(cfg, nil, nil)
	if err != nil {
		return err
	}
	authFailed := false
	sent, kept, err := delivery.Redeliver(cfg.State().DeadLetters(), newLogger(env.stderr, cfg.LogLevel), func(dl delivery.DeadLetter) error {
		if authFailed {
			return errors.New("token rejected")
		}
		target := dl.SlackChannel
		if t, ok := cfg.Target(dl.Channel); ok {
			target = t.SlackChannel
		}
		ev, err := event.Parse(dl.Event)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		id, err := resolver.Resolve(ctx, target)
		if err == nil {
			msg, _ := render.Pack([]event.Event{ev}, slack.Routing{Alert: dl.Alert, Mentions: [][]string{dl.Mention}, Templates: []string{dl.Template}})
			_, err = client.Post(ctx, id, msg)
		}
		if err != nil {
			class, _, _ := slack.Classify(err)
			authFailed = class == slack.Auth
			reason, hint := explain(err, target)
			fmt.Fprintf(env.stderr, "kept %s event %s for %s: %s (%s)\n", dl.Channel, termtext.Quote(ev.Action, " :"), target, reason, hint)
		}
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "redelivered %d, kept %d\n", sent, kept)
	if kept > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d dead letter(s) still fail; fix the cause and run redeliver again", kept)}
	}
	return nil
}

func cmdChannels(env *cliEnv, args []string) error {
	cfg, client, _, err := slackCommand(env, "channels", args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chans, err := client.ListChannels(ctx)
	if err != nil {
		reason, hint := explain(err, "")
		return fmt.Errorf("conversations.list: %s (%s)", reason, hint)
	}
	configured, _ := configuredChannels(cfg.Targets())
	sort.Slice(chans, func(i, j int) bool { return chans[i].Name < chans[j].Name })
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCHANNEL\tBOT MEMBER\tCONFIGURED AS")
	for _, c := range chans {
		names := append(configured[strings.ToLower(c.Name)], configured[c.ID]...)
		member := "no"
		if c.IsMember {
			member = "yes"
		}
		// Names and IDs come from Slack's API: printed as data, never as
		// terminal control.
		fmt.Fprintf(tw, "%s\t#%s\t%s\t%s\n", termtext.Quote(c.ID, " \t"), termtext.Quote(c.Name, " \t"), member, strings.Join(names, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printUnlisted(env.stdout, cfg.Targets(), chans)
	return nil
}

func cmdManifest(env *cliEnv, args []string) error {
	fs, path := flags(env, "manifest")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	publicURL := config.ExamplePublicURL
	if cfg, err := config.Load(*path); err == nil {
		publicURL = cfg.Admin.PublicURL
		if problem := cfg.PublicURLProblem(); problem != "" {
			fmt.Fprintf(env.stderr, "%s: warning: %s\n", cfg.Path, problem)
		}
	} else if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.stderr, "warning: no config at %s, so the redirect URL uses the example's %s; give your config with --config\n", *path, publicURL)
	} else {
		return err
	}
	fmt.Fprint(env.stdout, oauthsrv.Manifest(publicURL))
	return nil
}
