package config

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Bounds of audit_log.postgres.poll_interval: not so often that the
// database notices, often enough that an event reaches Slack in seconds
// (a standby tries the lock at most every 5 s, whatever the interval).
const (
	MinPollInterval = 100 * time.Millisecond
	MaxPollInterval = 10 * time.Second
)

// schemaRE is a schema name that needs no quoting in PostgreSQL: auditfwd
// creates and names it in SQL, and an operator types it in GRANTs.
var schemaRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (d *decoder) postgres(v *yaml.Node, p *Postgres) {
	if isNull(v) {
		return
	}
	d.mapping(v, "audit_log.postgres", map[string]field{
		"dsn_file": d.setStr(&p.DSNFile, "audit_log.postgres.dsn_file"),
		"state_schema": func(_, v *yaml.Node) {
			s, ok := d.str(v, "audit_log.postgres.state_schema")
			s = strings.TrimSpace(s)
			if !ok || s == "" {
				return
			}
			switch {
			case !schemaRE.MatchString(s):
				d.errorf(v.Line, "audit_log.postgres.state_schema: %q must be lowercase letters, digits and '_', starting with a letter or '_', at most 63 characters", s)
			case strings.HasPrefix(s, "pg_") || s == "audit" || s == "public" || s == "information_schema":
				d.errorf(v.Line, "audit_log.postgres.state_schema: %q is not auditfwd's to use (pg_*, information_schema, public and the gateway's audit schema are taken); the default is %s", s, DefaultStateSchema)
			default:
				p.StateSchema = s
			}
		},
		"poll_interval": func(_, v *yaml.Node) {
			if isNull(v) {
				return
			}
			dur := d.duration(v, "audit_log.postgres.poll_interval")
			if dur == 0 {
				return
			}
			if dur < MinPollInterval || dur > MaxPollInterval {
				d.errorf(v.Line, "audit_log.postgres.poll_interval must be between %v and %v, not %v", MinPollInterval, MaxPollInterval, dur)
				return
			}
			p.PollInterval = dur
		},
	})
}
