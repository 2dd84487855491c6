package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/auditfwd/auditfwd/internal/statedir"
)

// Environment variables and systemd credential names (LoadCredential=) that
// supply what the YAML file must not contain.
const (
	EnvClientID       = "SLACK_CLIENT_ID"
	EnvClientSecret   = "SLACK_CLIENT_SECRET"
	EnvAdminPassword  = "AUDITFWD_ADMIN_PASSWORD"
	EnvPostgresDSN    = "AUDITFWD_POSTGRES_DSN"
	EnvCredentialsDir = "CREDENTIALS_DIRECTORY"
	CredClientSecret  = "slack-client-secret"
	CredAdminPassword = "admin-password"
	CredPostgresDSN   = "postgres-dsn"
)

// ClientID is slack.client_id, else the SLACK_CLIENT_ID environment variable.
func (c *Config) ClientID() string {
	if c.Slack.ClientID != "" {
		return c.Slack.ClientID
	}
	return strings.TrimSpace(os.Getenv(EnvClientID))
}

// ClientSecret is the Slack app's client secret: the content of
// slack.client_secret_file when set, else SLACK_CLIENT_SECRET, else the
// systemd credential slack-client-secret when it exists. It is "" with a nil
// error when none is configured.
func (c *Config) ClientSecret() (string, error) {
	return secret("slack.client_secret_file", c.Slack.ClientSecretFile, EnvClientSecret, CredClientSecret)
}

// AdminPassword is the admin page's password: the content of
// admin.password_file when set, else AUDITFWD_ADMIN_PASSWORD, else the
// systemd credential admin-password when it exists. It is "" with a nil
// error when none is configured.
func (c *Config) AdminPassword() (string, error) {
	return secret("admin.password_file", c.Admin.PasswordFile, EnvAdminPassword, CredAdminPassword)
}

// PostgresDSN is the connection string of the gateway's database
// (audit_log.source: postgres): the content of audit_log.postgres.dsn_file
// when set, else AUDITFWD_POSTGRES_DSN, else the systemd credential
// postgres-dsn when it exists. It is "" with a nil error when none is
// configured. It may hold a password: never log it.
func (c *Config) PostgresDSN() (string, error) {
	return secret("audit_log.postgres.dsn_file", c.AuditLog.Postgres.DSNFile, EnvPostgresDSN, CredPostgresDSN)
}

// PostgresDSNSource names where PostgresDSN comes from, for messages that
// must not show the DSN itself.
func (c *Config) PostgresDSNSource() string {
	switch {
	case c.AuditLog.Postgres.DSNFile != "":
		return "audit_log.postgres.dsn_file " + c.AuditLog.Postgres.DSNFile
	case os.Getenv(EnvPostgresDSN) != "":
		return EnvPostgresDSN
	}
	return "the systemd credential " + CredPostgresDSN
}

// BotTokenFile is where the OAuth install stores the bot token:
// slack.bot_token_file, or slack-token.json in state_dir.
func (c *Config) BotTokenFile() string {
	if c.Slack.BotTokenFile != "" {
		return c.Slack.BotTokenFile
	}
	return c.State().Token()
}

// State is state_dir with its layout.
func (c *Config) State() statedir.Dir { return statedir.Dir(c.StateDir) }

// secret reads a secret from the configured file, the environment, or the
// systemd credentials directory, in that order. Errors name the source,
// never the value.
func secret(key, file, env, cred string) (string, error) {
	if file != "" {
		return readSecret(file, key)
	}
	if v := trimNewline(os.Getenv(env)); v != "" {
		return v, nil
	}
	if dir := os.Getenv(EnvCredentialsDir); dir != "" {
		p := filepath.Join(dir, cred)
		if _, err := os.Stat(p); err == nil {
			return readSecret(p, "credential "+cred)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("credential %s: %w", cred, err)
		}
	}
	return "", nil
}

func readSecret(path, what string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	v := trimNewline(string(data))
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", what, path)
	}
	return v, nil
}

func trimNewline(s string) string { return strings.TrimRight(s, "\r\n") }
