package delivery

import (
	"context"
	"log/slog"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/layout"
	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/redact"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// NewRenderer compiles what cfg says messages show: the redact section and
// the rules' templates (docs/redaction.md, docs/templates.md). The first
// failure of each rule's title is logged (log may be nil: one-shot
// commands); failures and redactions are counted in m (may be nil) as
// Slack takes the messages (counted). The config was validated when it
// was parsed, so an error here means it was built by hand.
func NewRenderer(cfg *config.Config, m *metrics.Metrics, log *slog.Logger) (*slack.Renderer, error) {
	red, err := redact.New(cfg.Redact.Options())
	if err != nil {
		return nil, err
	}
	var layouts []*layout.Layout
	for _, ch := range cfg.Channels {
		if ch.Template == nil {
			continue
		}
		l, err := layout.New(ch.Name, ch.Template.Title, ch.Template.Fields)
		if err != nil {
			return nil, err
		}
		layouts = append(layouts, l)
		if m != nil {
			m.TemplateErrors.WithLabelValues(ch.Name)
		}
	}
	if m != nil {
		names := []string{redact.FieldLabel, redact.PatternLabel}
		if cfg.Redact.Secrets {
			for _, d := range redact.Detectors() {
				names = append(names, d.Name)
			}
		}
		m.InitDetectors(names)
	}
	failed := func(rule string, err error, first bool) {
		if first && log != nil {
			log.Warn("a rule's title template failed for an event; such events show the default heading (logged once per rule)",
				"channel", rule, "err", err)
		}
	}
	return slack.NewRenderer(red, layouts, failed), nil
}

// SetRenderer makes the senders lay out messages with r from their next
// message on (start-up and every reload).
func (s *Service) SetRenderer(r *slack.Renderer) { s.render.Store(r) }

// renderer is the Renderer in force.
func (s *Service) renderer() *slack.Renderer { return s.render.Load() }

// counted is a Messenger that counts what was redacted in each message
// Slack accepted (auditfwd_redactions_total) and the titles that failed in
// it (auditfwd_template_errors_total): a message retried after a failure
// is counted once, when it goes through.
type counted struct {
	Messenger
	m *metrics.Metrics
}

func (c counted) add(msg slack.Message, err error) {
	if err != nil || c.m == nil {
		return
	}
	for name, n := range msg.Redacted {
		c.m.Redactions.WithLabelValues(name).Add(float64(n))
	}
	for rule, n := range msg.TemplateErrors {
		c.m.TemplateErrors.WithLabelValues(rule).Add(float64(n))
	}
}

func (c counted) Post(ctx context.Context, channelID string, msg slack.Message) (slack.Posted, error) {
	p, err := c.Messenger.Post(ctx, channelID, msg)
	c.add(msg, err)
	return p, err
}

func (c counted) Reply(ctx context.Context, channelID, threadTS string, msg slack.Message) (slack.Posted, error) {
	p, err := c.Messenger.Reply(ctx, channelID, threadTS, msg)
	c.add(msg, err)
	return p, err
}

func (c counted) Update(ctx context.Context, channelID, ts string, msg slack.Message) (slack.Posted, error) {
	p, err := c.Messenger.Update(ctx, channelID, ts, msg)
	c.add(msg, err)
	return p, err
}
