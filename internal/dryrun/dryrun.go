// Package dryrun is `auditfwd run --dry-run`: it reads the configured audit
// log once, from its first line to its end, and prints every message
// auditfwd would post (JSON lines for scripts, or one readable line per
// message for people), then a summary of what it read on stderr. It never
// talks to Slack and writes no checkpoint, spool or token.
package dryrun

import (
	"context"
	"fmt"
	"io"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/event"
	"github.com/auditfwd/auditfwd/internal/logpos"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/pipeline"
	"github.com/auditfwd/auditfwd/internal/rules"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// Output formats of the messages.
const (
	FormatJSON = "json" // one JSON object per line: channel, slack_channel, alert, message (Block Kit)
	FormatText = "text" // one line per message: channel and headline
)

// Options are what one dry run needs.
type Options struct {
	Config *config.Config
	Format event.Format // how the log's lines are wrapped
	Rules  *rules.Rules
	// Renderer lays the messages out as the daemon would (redaction,
	// templates); nil is the zero Renderer.
	Renderer *slack.Renderer
	Metrics  *metrics.Metrics
	Output   string    // FormatJSON (default) or FormatText
	Stdout   io.Writer // the messages
	Stderr   io.Writer // the summary
}

// Run reads the log and prints. The summary is printed even when reading fails.
func Run(ctx context.Context, o Options) error {
	var printer *delivery.Printer
	switch o.Output {
	case "", FormatJSON:
		printer = delivery.NewPrinter(o.Stdout, o.Renderer)
	case FormatText:
		printer = newTextPrinter(o.Stdout, o.Renderer)
	default:
		return fmt.Errorf("--format %q: use %s or %s", o.Output, FormatJSON, FormatText)
	}
	sum := newSummary(o.Config.AuditLog.Path, o.Metrics)
	sink := &countingSink{Sink: printer, sum: sum}
	h := pipeline.New(o.Format, o.Config.AuditLog.MaxLineBytes, o.Rules, sink, o.Metrics)
	h.OnUnrouted(sum.unrouted)
	t := tailer.New(tailer.Options{Path: o.Config.AuditLog.Path, Once: true, MaxLineBytes: o.Config.AuditLog.MaxLineBytes}, h)
	err := t.Run(ctx)
	if serr := printer.Sync(); err == nil {
		err = serr
	}
	sum.redacted = printer.Redacted()
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
