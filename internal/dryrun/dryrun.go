// Package dryrun is `auditfwd run --dry-run`: it reads the configured audit
// log once, from its first line to its end, through the daemon's own
// pipeline and rules, and prints every message auditfwd would post (JSON
// lines for scripts, or one readable line per message for people), laid out
// and threaded as the senders would, then a summary of what it read on
// stderr. It never talks to Slack and writes no checkpoint, spool or token.
package dryrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/pipeline"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// Output formats of the messages.
const (
	FormatJSON = "json" // one JSON object per line: channel, slack_channel, alert, message (Block Kit)
	FormatText = "text" // one line per message: channel and headline
)

// Options are what one dry run needs besides the config.
type Options struct {
	Output string    // FormatJSON (default) or FormatText
	Stdout io.Writer // the messages
	Stderr io.Writer // the summary
	// Logger gets what the daemon would log about the rules (a title
	// template that fails, once per rule); nil discards it.
	Logger *slog.Logger
	// Metrics counts the lines as the daemon does (the summary reads the
	// counters); nil: a fresh set.
	Metrics *metrics.Metrics
}

// Run reads cfg's audit log and prints. The summary is printed even when
// reading fails.
func Run(ctx context.Context, cfg *config.Config, o Options) error {
	if cfg.AuditLog.Source == config.SourcePostgres {
		return errors.New("run --dry-run reads audit_log.path; with audit_log.source: postgres, `auditfwd route --replay-db N --explain` shows where the table's last N rows go")
	}
	var write func(io.Writer, Message) error
	switch o.Output {
	case "", FormatJSON:
		write = writeJSON
	case FormatText:
		write = writeText
	default:
		return fmt.Errorf("--format %q: use %s or %s", o.Output, FormatJSON, FormatText)
	}
	r, err := rules.Compile(cfg)
	if err != nil {
		return err
	}
	format, err := event.ParseFormat(cfg.AuditLog.Format)
	if err != nil {
		return err
	}
	m := o.Metrics
	if m == nil {
		m = metrics.New("")
	}
	render, err := delivery.NewRenderer(cfg, m, o.Logger)
	if err != nil {
		return err
	}
	p := newPrinter(o.Stdout, render, write)
	sum := newSummary(cfg.AuditLog.Path, m)
	sink := &countingSink{Sink: p, sum: sum}
	h := pipeline.New(format, cfg.AuditLog.MaxLineBytes, r, sink, m)
	h.OnUnrouted(sum.unrouted)
	t := tailer.New(tailer.Options{Path: cfg.AuditLog.Path, Once: true, MaxLineBytes: cfg.AuditLog.MaxLineBytes}, h)
	err = t.Run(ctx)
	if serr := p.Sync(); err == nil {
		err = serr
	}
	sum.redacted = p.redacted
	sum.write(o.Stderr)
	return err
}

// countingSink counts the events it passes on, per channel.
type countingSink struct {
	pipeline.Sink
	sum *summary
}

func (c *countingSink) Enqueue(d rules.Destination, line []byte, pos logpos.Position) (bool, error) {
	queued, err := c.Sink.Enqueue(d, line, pos)
	if err == nil && queued {
		c.sum.routed(d.Channel)
	}
	return queued, err
}
