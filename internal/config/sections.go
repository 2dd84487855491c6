package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// config fills cfg from the top-level mapping. It reports whether the file
// has a channels key.
func (d *decoder) config(root *yaml.Node, cfg *Config) (channelsSet bool) {
	d.mapping(root, "", map[string]field{
		"audit_log": func(_, v *yaml.Node) { d.auditLog(v, &cfg.AuditLog) },
		"state_dir": d.setStr(&cfg.StateDir, "state_dir"),
		"slack":     func(_, v *yaml.Node) { d.slack(v, &cfg.Slack) },
		"metrics": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			d.mapping(v, "metrics", map[string]field{
				"listen": d.listenAddr(&cfg.Metrics.Listen, "metrics.listen"),
			})
		},
		"admin": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			d.mapping(v, "admin", map[string]field{
				"listen":          d.listenAddr(&cfg.Admin.Listen, "admin.listen"),
				"public_url":      d.httpURL(&cfg.Admin.PublicURL, "admin.public_url"),
				"password_file":   d.setStr(&cfg.Admin.PasswordFile, "admin.password_file"),
				"trusted_proxies": d.prefixes(&cfg.Admin.TrustedProxies, "admin.trusted_proxies"),
			})
		},
		"log_level": d.oneOf(&cfg.LogLevel, "log_level", "debug", "info", "warn", "error"),
		"channels": func(k, v *yaml.Node) {
			channelsSet = true
			cfg.Channels = d.channels(k, v)
		},
		"deploy_approval_alerts": func(k, v *yaml.Node) { d.alerts(k, v, &cfg.DeployApprovalAlerts) },
		"redact":                 func(_, v *yaml.Node) { d.redact(v, &cfg.Redact) },
	})
	return channelsSet
}

func (d *decoder) auditLog(v *yaml.Node, a *AuditLog) {
	if isNull(v) {
		return
	}
	d.mapping(v, "audit_log", map[string]field{
		"source":   d.oneOf(&a.Source, "audit_log.source", SourceFile, SourcePostgres),
		"postgres": func(_, v *yaml.Node) { d.postgres(v, &a.Postgres) },
		"path":     d.setStr(&a.Path, "audit_log.path"),
		"format":   d.oneOf(&a.Format, "audit_log.format", "auto", "json", "docker", "cri"),
		"start_at": d.oneOf(&a.StartAt, "audit_log.start_at", "end", "beginning"),
		"max_line_bytes": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			var n int
			if v.Kind != yaml.ScalarNode || v.Tag != "!!int" || v.Decode(&n) != nil {
				d.errorf(v.Line, "audit_log.max_line_bytes must be a whole number of bytes, not %s", describe(v))
				return
			}
			if n <= 0 {
				d.errorf(v.Line, "audit_log.max_line_bytes must be positive, not %d", n)
				return
			}
			a.MaxLineBytes = n
		},
	})
}

func (d *decoder) slack(v *yaml.Node, s *Slack) {
	if isNull(v) {
		return
	}
	d.mapping(v, "slack", map[string]field{
		"api_url":            d.httpURL(&s.APIURL, "slack.api_url"),
		"authorize_url":      d.httpURL(&s.AuthorizeURL, "slack.authorize_url"),
		"client_id":          d.setStr(&s.ClientID, "slack.client_id"),
		"client_secret_file": d.setStr(&s.ClientSecretFile, "slack.client_secret_file"),
		"bot_token_file":     d.setStr(&s.BotTokenFile, "slack.bot_token_file"),
	})
	if !strings.HasSuffix(s.APIURL, "/") {
		s.APIURL += "/"
	}
}
