package config

import "slices"

// RoutingEqual reports whether c and o route and render identically: the
// same channels (names, Slack channels, patterns, where conditions,
// mentions and templates, in order), the same deploy approval alerts and
// the same redact section. Line numbers are ignored, so moving a block in
// the file is no change.
func (c *Config) RoutingEqual(o *Config) bool {
	if len(c.Channels) != len(o.Channels) || !c.Redact.Equal(o.Redact) {
		return false
	}
	for i, a := range c.Channels {
		b := o.Channels[i]
		if a.Name != b.Name || a.SlackChannel != b.SlackChannel || !slices.Equal(a.Actions, b.Actions) ||
			!conditionsEqual(a.Where, b.Where) || !slices.Equal(a.Mention, b.Mention) || !a.Template.Equal(b.Template) {
			return false
		}
	}
	a, b := c.DeployApprovalAlerts, o.DeployApprovalAlerts
	return a.Enabled == b.Enabled && a.SlackChannel == b.SlackChannel && slices.Equal(a.Actions, b.Actions) &&
		conditionsEqual(a.Where, b.Where) && slices.Equal(a.Mention, b.Mention)
}

func conditionsEqual(a, b []Condition) bool {
	return slices.EqualFunc(a, b, func(x, y Condition) bool {
		return x.Field == y.Field && slices.Equal(x.Globs, y.Globs)
	})
}

// RestartKeysChanged returns the dotted names of the settings outside
// channels and deploy_approval_alerts whose values differ between c and o,
// e.g. ["audit_log.path", "metrics.listen"]: those need a restart to apply.
// It is nil when none differ.
func (c *Config) RestartKeysChanged(o *Config) []string {
	var out []string
	add := func(name string, changed bool) {
		if changed {
			out = append(out, name)
		}
	}
	add("audit_log.source", c.AuditLog.Source != o.AuditLog.Source)
	add("audit_log.path", c.AuditLog.Path != o.AuditLog.Path)
	add("audit_log.format", c.AuditLog.Format != o.AuditLog.Format)
	add("audit_log.start_at", c.AuditLog.StartAt != o.AuditLog.StartAt)
	add("audit_log.max_line_bytes", c.AuditLog.MaxLineBytes != o.AuditLog.MaxLineBytes)
	add("audit_log.postgres.dsn_file", c.AuditLog.Postgres.DSNFile != o.AuditLog.Postgres.DSNFile)
	add("audit_log.postgres.state_schema", c.AuditLog.Postgres.StateSchema != o.AuditLog.Postgres.StateSchema)
	add("audit_log.postgres.poll_interval", c.AuditLog.Postgres.PollInterval != o.AuditLog.Postgres.PollInterval)
	add("state_dir", c.StateDir != o.StateDir)
	add("slack.api_url", c.Slack.APIURL != o.Slack.APIURL)
	add("slack.authorize_url", c.Slack.AuthorizeURL != o.Slack.AuthorizeURL)
	add("slack.client_id", c.Slack.ClientID != o.Slack.ClientID)
	add("slack.client_secret_file", c.Slack.ClientSecretFile != o.Slack.ClientSecretFile)
	add("slack.bot_token_file", c.Slack.BotTokenFile != o.Slack.BotTokenFile)
	add("metrics.listen", c.Metrics.Listen != o.Metrics.Listen)
	add("admin.listen", c.Admin.Listen != o.Admin.Listen)
	add("admin.public_url", c.Admin.PublicURL != o.Admin.PublicURL)
	add("admin.password_file", c.Admin.PasswordFile != o.Admin.PasswordFile)
	add("admin.trusted_proxies", !slices.Equal(c.Admin.TrustedProxies, o.Admin.TrustedProxies))
	add("log_level", c.LogLevel != o.LogLevel)
	return out
}
