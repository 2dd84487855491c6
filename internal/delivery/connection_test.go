package delivery

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/token"
)

// A rejected token from SLACK_BOT_TOKEN: reconnecting on the admin page
// cannot help while the variable wins, so the log says to fix the variable.
func TestRejectedEnvironmentTokenSaysFixTheVariable(t *testing.T) {
	for _, env := range []string{"xoxb-wrong", ""} {
		t.Setenv(token.EnvVar, env)
		var out bytes.Buffer
		log := slog.New(slog.NewTextHandler(&out, nil))
		conn := NewConnection(slack.Options{APIURL: "http://127.0.0.1:1/", Timeout: time.Second}, t.TempDir()+"/token.json", log, metrics.New("test"))
		conn.Set(token.Token{AccessToken: "xoxb-from-somewhere"})
		conn.Invalid(conn.session().Gen, "invalid_auth")
		fromEnv := strings.Contains(out.String(), token.EnvVar)
		if fromEnv != (env != "") {
			t.Errorf("%s=%q: the log names the variable: %v\n%s", token.EnvVar, env, fromEnv, out.String())
		}
		if env == "" && !strings.Contains(out.String(), "admin page") {
			t.Errorf("without the variable the fix is the admin page:\n%s", out.String())
		}
		if strings.Contains(out.String(), "xoxb-") {
			t.Errorf("a token in the log:\n%s", out.String())
		}
	}
}
