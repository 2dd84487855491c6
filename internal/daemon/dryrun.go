package daemon

import (
	"context"
	"io"

	"github.com/auditfwd/auditfwd/internal/delivery"
	"github.com/auditfwd/auditfwd/internal/pipeline"
	"github.com/auditfwd/auditfwd/internal/tailer"
)

// DryRun is `auditfwd run --dry-run`: the audit log from its first line to
// its end through the same pipeline, each message printed to w instead of
// posted. It writes no checkpoint and no spool.
func (d *Daemon) DryRun(ctx context.Context, w io.Writer) error {
	cfg := d.cfg
	h := pipeline.New(d.format, cfg.AuditLog.MaxLineBytes, d.rules, delivery.NewPrinter(w), d.m)
	t := tailer.New(tailer.Options{Path: cfg.AuditLog.Path, Once: true, MaxLineBytes: cfg.AuditLog.MaxLineBytes}, h)
	return t.Run(ctx)
}
