package config

import (
	"errors"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/auditfwd/auditfwd/internal/token"
)

// ExamplePublicURL is admin.public_url as configs/example.yaml ships it.
const ExamplePublicURL = "https://your-gateway-domain.com"

// Placeholders returns what makes `auditfwd run` useless on this host as
// configured: settings left as the example ships them and missing pieces,
// one sentence each naming the key and the fix. `check` prints them as
// warnings and the daemon logs them at start.
//
// It looks at the environment and at whether the secret files exist, as
// the daemon would find them, but reads no secret. A file it may not look
// at (a root-only credentials directory) counts as present.
func (c *Config) Placeholders() []string {
	var out []string
	if msg := c.PublicURLProblem(); msg != "" {
		out = append(out, msg)
	}
	if !c.hasBotToken() {
		switch {
		case c.ClientID() == "":
			out = append(out, "slack.client_id is empty (and SLACK_CLIENT_ID is not set) while no bot token exists ("+
				"no SLACK_BOT_TOKEN, no "+c.BotTokenFile()+"): auditfwd can neither connect to Slack nor deliver. "+
				"Create the Slack app from `auditfwd manifest` and set its client ID (docs/slack-setup.md)")
		case !c.hasSecret(c.Slack.ClientSecretFile, EnvClientSecret, CredClientSecret):
			out = append(out, "no Slack client secret (slack.client_secret_file, SLACK_CLIENT_SECRET or the systemd credential "+
				CredClientSecret+") while no bot token exists: Connect to Slack cannot complete (docs/slack-setup.md)")
		}
	}
	if !c.hasSecret(c.Admin.PasswordFile, EnvAdminPassword, CredAdminPassword) {
		out = append(out, "no admin password (admin.password_file, AUDITFWD_ADMIN_PASSWORD or the systemd credential "+
			CredAdminPassword+"): the admin page answers 503, so nobody can connect Slack or press Test there (docs/slack-setup.md)")
	}
	if dir := filepath.Dir(c.AuditLog.Path); c.AuditLog.Source != SourcePostgres && !mayExist(dir) {
		out = append(out, "audit_log.path "+c.AuditLog.Path+": its directory "+dir+" does not exist on this host: "+
			"auditfwd would wait for the log forever (auditfwd_audit_log_present 0). Is the path right?")
	}
	if c.AuditLog.Source == SourcePostgres && !c.hasSecret(c.AuditLog.Postgres.DSNFile, EnvPostgresDSN, CredPostgresDSN) {
		out = append(out, "audit_log.source is postgres but no DSN is configured (audit_log.postgres.dsn_file, "+EnvPostgresDSN+
			" or the systemd credential "+CredPostgresDSN+"): `auditfwd run` will refuse to start (docs/high-availability.md)")
	}
	for _, f := range []struct{ key, path string }{
		{"slack.client_secret_file", c.Slack.ClientSecretFile},
		{"admin.password_file", c.Admin.PasswordFile},
		{"audit_log.postgres.dsn_file", c.AuditLog.Postgres.DSNFile},
	} {
		if f.path != "" && !mayExist(f.path) {
			out = append(out, f.key+" "+f.path+" does not exist: `auditfwd run` will refuse to start")
		}
	}
	return out
}

// PublicURLProblem says why admin.public_url cannot be the address Slack
// sends the browser back to, or "" when it can.
func (c *Config) PublicURLProblem() string {
	pu := c.Admin.PublicURL
	if pu == "" {
		return "admin.public_url is not set: Slack cannot send the browser back after Connect to Slack. " +
			"Set it to the https URL at which the gateway's proxy publishes the admin page"
	}
	u, err := url.Parse(pu)
	if err != nil {
		return "" // decoding already refused it
	}
	host := strings.ToLower(u.Hostname())
	if strings.TrimRight(pu, "/") == ExamplePublicURL || exampleDomain(host) {
		return "admin.public_url is still the example's " + pu + ": the Slack app's redirect URL and the admin page would point there. " +
			"Set it to the https URL at which the gateway's proxy publishes the admin page"
	}
	if u.Scheme != "https" && !loopback(host) {
		return "admin.public_url " + pu + " is not https: Slack accepts only https redirect URLs, and the admin password " +
			"would cross the network in clear. Publish the page through the gateway's TLS proxy and use its https URL"
	}
	return ""
}

// exampleDomain reports names reserved for documentation (RFC 2606) and
// the example config's own.
func exampleDomain(host string) bool {
	for _, d := range []string{"your-gateway-domain.com", "example.com", "example.net", "example.org", "example", "invalid"} {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

func loopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasBotToken reports whether delivery has a token without the OAuth flow.
func (c *Config) hasBotToken() bool {
	return strings.TrimSpace(os.Getenv(token.EnvVar)) != "" || mayExist(c.BotTokenFile())
}

// hasSecret reports whether secret() would find a source: the *_file key,
// the environment, the systemd credential, or the credential's source file
// next to the config as the shipped unit loads it (so that `check`, run
// from a shell, agrees with the service).
func (c *Config) hasSecret(file, env, cred string) bool {
	if file != "" || trimNewline(os.Getenv(env)) != "" {
		return true
	}
	if dir := os.Getenv(EnvCredentialsDir); dir != "" && mayExist(filepath.Join(dir, cred)) {
		return true
	}
	return c.Path != "" && mayExist(filepath.Join(filepath.Dir(c.Path), "credentials", cred))
}

// mayExist is false only when path surely does not exist.
func mayExist(path string) bool {
	_, err := os.Stat(path)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}
