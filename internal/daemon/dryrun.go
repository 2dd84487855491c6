package daemon

import (
	"context"
	"errors"
	"io"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/dryrun"
)

// DryRun is `auditfwd run --dry-run` (package dryrun) with this daemon's
// config, rules and metrics: the audit log from its first line to its end
// through the same pipeline, each message printed to stdout in output's
// form (dryrun.FormatJSON or dryrun.FormatText) instead of posted, then a
// summary on stderr. It writes no checkpoint and no spool.
func (d *Daemon) DryRun(ctx context.Context, output string, stdout, stderr io.Writer) error {
	if d.cfg.AuditLog.Source == config.SourcePostgres {
		return errors.New("run --dry-run reads audit_log.path; with audit_log.source: postgres, `auditfwd route --replay-db N --explain` shows where the table's last N rows go")
	}
	return dryrun.Run(ctx, dryrun.Options{Config: d.cfg, Format: d.format, Rules: d.rules, Renderer: d.render, Metrics: d.m,
		Output: output, Stdout: stdout, Stderr: stderr})
}
