package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cleanEnv unsets every variable Placeholders looks at.
func cleanEnv(t *testing.T) {
	for _, v := range []string{EnvClientID, EnvClientSecret, EnvAdminPassword, EnvCredentialsDir, "SLACK_BOT_TOKEN"} {
		t.Setenv(v, "")
	}
}

func placeholders(t *testing.T, src string) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	cfg, err := Parse([]byte(src), path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = t.TempDir() // no token file unless a test writes one
	if cfg.AuditLog.Path == DefaultAuditLogPath {
		cfg.AuditLog.Path = filepath.Join(t.TempDir(), "audit.log") // a directory that exists
	}
	return cfg.Placeholders()
}

func hasAll(t *testing.T, got []string, want ...string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d warnings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("warning %d:\n got %s\nwant …%s…", i, got[i], want[i])
		}
	}
}

func TestPlaceholdersOfTheExampleConfig(t *testing.T) {
	cleanEnv(t)
	data, err := os.ReadFile("../../configs/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hasAll(t, placeholders(t, string(data)),
		"admin.public_url is still the example's https://your-gateway-domain.com",
		"slack.client_id is empty (and SLACK_CLIENT_ID is not set) while no bot token exists",
		"no admin password (admin.password_file, AUDITFWD_ADMIN_PASSWORD or the systemd credential admin-password)")
}

func TestPlaceholdersGoneWhenConfigured(t *testing.T) {
	cleanEnv(t)
	ok := "admin:\n  public_url: https://auditfwd.gw.acme.io\nslack:\n  client_id: \"1234.5678\"\n"
	t.Setenv(EnvClientSecret, "s")
	t.Setenv(EnvAdminPassword, "p")
	hasAll(t, placeholders(t, ok))

	// The systemd credentials, as the service sees them …
	t.Setenv(EnvClientSecret, "")
	t.Setenv(EnvAdminPassword, "")
	creds := t.TempDir()
	for _, name := range []string{CredClientSecret, CredAdminPassword} {
		os.WriteFile(filepath.Join(creds, name), []byte("x"), 0o600)
	}
	t.Setenv(EnvCredentialsDir, creds)
	hasAll(t, placeholders(t, ok))

	// … or their source files next to the config, as `check` sees them from a shell.
	t.Setenv(EnvCredentialsDir, "")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "credentials"), 0o700)
	for _, name := range []string{CredClientSecret, CredAdminPassword} {
		os.WriteFile(filepath.Join(dir, "credentials", name), []byte("x"), 0o600)
	}
	cfg, err := Parse([]byte(ok), filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = t.TempDir()
	cfg.AuditLog.Path = filepath.Join(t.TempDir(), "audit.log")
	hasAll(t, cfg.Placeholders())
}

func TestPlaceholderPublicURL(t *testing.T) {
	cleanEnv(t)
	t.Setenv(EnvAdminPassword, "p")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-x")
	for src, want := range map[string]string{
		"admin:\n  public_url: https://your-gateway-domain.com/\n": "is still the example's",
		"admin:\n  public_url: https://auditfwd.gw.example.com\n":  "is still the example's",
		"admin:\n  public_url: http://gw.acme.io\n":                "admin.public_url http://gw.acme.io is not https",
		"admin:\n  listen: 127.0.0.1:8089\n":                       "admin.public_url is not set",
		"admin:\n  public_url: http://127.0.0.1:8089\n":            "",
		"admin:\n  public_url: http://localhost:8089\n":            "",
		"admin:\n  public_url: \"http://[::1]:8089\"\n":            "",
		"admin:\n  public_url: https://auditfwd.gw.acme.io:8443\n": "",
	} {
		got := placeholders(t, src)
		if want == "" {
			hasAll(t, got)
		} else {
			hasAll(t, got, want)
		}
	}
}

func TestPlaceholderTokenAndClient(t *testing.T) {
	cleanEnv(t)
	t.Setenv(EnvAdminPassword, "p")
	const base = "admin:\n  public_url: https://gw.acme.io\n"
	hasAll(t, placeholders(t, base), "slack.client_id is empty")
	t.Setenv(EnvClientID, "1234.5678")
	hasAll(t, placeholders(t, base), "no Slack client secret (slack.client_secret_file, SLACK_CLIENT_SECRET")
	// A token makes the app credentials unnecessary: from the environment …
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-x")
	hasAll(t, placeholders(t, base))
	// … or from the token file an earlier install wrote.
	t.Setenv("SLACK_BOT_TOKEN", "")
	t.Setenv(EnvClientID, "")
	tok := filepath.Join(t.TempDir(), "token.json")
	os.WriteFile(tok, []byte(`{"access_token":"xoxb-x"}`), 0o600)
	hasAll(t, placeholders(t, base+"slack:\n  bot_token_file: "+tok+"\n"))
}

func TestPlaceholderSecretFileMissing(t *testing.T) {
	cleanEnv(t)
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-x")
	hasAll(t, placeholders(t, "admin:\n  public_url: https://gw.acme.io\n  password_file: /nonexistent/pw\n"),
		"admin.password_file /nonexistent/pw does not exist: `auditfwd run` will refuse to start")
}

// A log whose directory does not exist here is waited for forever: check
// says so. A log that does not exist yet in a directory that does is normal.
func TestPlaceholderAuditLogDirectory(t *testing.T) {
	cleanEnv(t)
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-x")
	t.Setenv(EnvAdminPassword, "p")
	dir := t.TempDir()
	const base = "admin:\n  public_url: https://gw.acme.io\naudit_log:\n  path: "
	hasAll(t, placeholders(t, base+filepath.Join(dir, "not-yet.log")+"\n"))
	missing := filepath.Join(dir, "rack-gatway", "audit.log")
	hasAll(t, placeholders(t, base+missing+"\n"),
		"audit_log.path "+missing+": its directory "+filepath.Dir(missing)+" does not exist on this host")
}
