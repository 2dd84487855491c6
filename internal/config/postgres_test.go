package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The spec's §11 example, verbatim.
const postgresExample = `
audit_log:
  source: postgres                  # file (default) | postgres
  postgres:
    dsn_file: /etc/auditfwd/postgres.dsn   # or env AUDITFWD_POSTGRES_DSN (a secret)
    state_schema: auditfwd          # auditfwd's own tables (created if absent)
    poll_interval: 1s
`

func TestPostgresKeys(t *testing.T) {
	cfg := mustParse(t, postgresExample)
	want := Postgres{DSNFile: "/etc/auditfwd/postgres.dsn", StateSchema: "auditfwd", PollInterval: time.Second}
	if cfg.AuditLog.Source != SourcePostgres || cfg.AuditLog.Postgres != want {
		t.Errorf("audit_log = %+v", cfg.AuditLog)
	}
	cfg = mustParse(t, "audit_log:\n  postgres:\n    state_schema: fwd_2\n    poll_interval: 250ms\n")
	if cfg.AuditLog.Source != SourceFile || cfg.AuditLog.Postgres != (Postgres{StateSchema: "fwd_2", PollInterval: 250 * time.Millisecond}) {
		t.Errorf("file source with a prepared postgres section: %+v", cfg.AuditLog)
	}
	// An empty section keeps the defaults.
	if cfg := mustParse(t, "audit_log:\n  source: postgres\n  postgres:\n"); cfg.AuditLog.Postgres != (Postgres{StateSchema: "auditfwd", PollInterval: time.Second}) {
		t.Errorf("empty postgres section: %+v", cfg.AuditLog.Postgres)
	}
}

func TestPostgresErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"audit_log:\n  source: mysql\n", `c.yaml:2: audit_log.source: "mysql" is not one of file, postgres`},
		{"audit_log:\n  postgres:\n    dsn: postgres://x\n", `c.yaml:3: unknown key "dsn" in audit_log.postgres; did you mean "dsn_file"?`},
		{"audit_log:\n  postgres:\n    state_schema: Audit-Fwd\n", `c.yaml:3: audit_log.postgres.state_schema: "Audit-Fwd" must be lowercase letters, digits and '_', starting with a letter or '_', at most 63 characters`},
		{"audit_log:\n  postgres:\n    state_schema: audit\n", `c.yaml:3: audit_log.postgres.state_schema: "audit" is not auditfwd's to use (pg_*, information_schema, public and the gateway's audit schema are taken); the default is auditfwd`},
		{"audit_log:\n  postgres:\n    state_schema: pg_fwd\n", `c.yaml:3: audit_log.postgres.state_schema: "pg_fwd" is not auditfwd's to use (pg_*, information_schema, public and the gateway's audit schema are taken); the default is auditfwd`},
		{"audit_log:\n  postgres:\n    poll_interval: 10ms\n", `c.yaml:3: audit_log.postgres.poll_interval must be between 100ms and 10s, not 10ms`},
		{"audit_log:\n  postgres:\n    poll_interval: 2h\n", `c.yaml:3: audit_log.postgres.poll_interval must be between 100ms and 10s, not 2h0m0s`},
		{"audit_log:\n  postgres:\n    poll_interval: often\n", `c.yaml:3: audit_log.postgres.poll_interval must be a positive duration such as 30m, 24h or 7d, not "often"`},
		{"audit_log:\n  postgres: [a]\n", `c.yaml:2: audit_log.postgres must be a mapping of keys to values, not a list`},
	} {
		_, err := Parse([]byte(tt.src), "c.yaml")
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q):\n got %v\nwant %s", tt.src, err, tt.want)
		}
	}
}

func TestPostgresDSN(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	t.Setenv(EnvCredentialsDir, creds)
	t.Setenv(EnvPostgresDSN, "")
	cfg := mustParse(t, "audit_log:\n  source: postgres\n")
	if dsn, err := cfg.PostgresDSN(); dsn != "" || err != nil {
		t.Errorf("no DSN anywhere: %q, %v", dsn, err)
	}
	if !slices.ContainsFunc(cfg.Placeholders(), func(s string) bool { return strings.Contains(s, "no DSN is configured") }) {
		t.Errorf("placeholders do not say the DSN is missing: %q", cfg.Placeholders())
	}
	if err := os.WriteFile(filepath.Join(creds, CredPostgresDSN), []byte("postgres://cred@db/gw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dsn, _ := cfg.PostgresDSN(); dsn != "postgres://cred@db/gw" {
		t.Errorf("from the credential: %q", dsn)
	}
	t.Setenv(EnvPostgresDSN, "postgres://env@db/gw")
	if dsn, _ := cfg.PostgresDSN(); dsn != "postgres://env@db/gw" || cfg.PostgresDSNSource() != EnvPostgresDSN {
		t.Errorf("from the environment: %q (%s)", dsn, cfg.PostgresDSNSource())
	}
	file := filepath.Join(dir, "postgres.dsn")
	if err := os.WriteFile(file, []byte("host=db user=auditfwd password=s3cret-pw dbname=gw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = mustParse(t, "audit_log:\n  source: postgres\n  postgres:\n    dsn_file: "+file+"\n")
	if dsn, _ := cfg.PostgresDSN(); dsn != "host=db user=auditfwd password=s3cret-pw dbname=gw" {
		t.Errorf("from the file: %q", dsn)
	}
	if src := cfg.PostgresDSNSource(); !strings.Contains(src, file) {
		t.Errorf("source %q does not name the file", src)
	}
	cfg = mustParse(t, "audit_log:\n  source: postgres\n  postgres:\n    dsn_file: "+filepath.Join(dir, "missing")+"\n")
	_, err := cfg.PostgresDSN()
	if err == nil || !strings.Contains(err.Error(), "audit_log.postgres.dsn_file") {
		t.Errorf("missing file: %v", err)
	}
	if !slices.ContainsFunc(cfg.Placeholders(), func(s string) bool { return strings.Contains(s, "dsn_file") && strings.Contains(s, "does not exist") }) {
		t.Errorf("placeholders do not say the DSN file is missing: %q", cfg.Placeholders())
	}
}
