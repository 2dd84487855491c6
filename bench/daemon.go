package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/auditfwd/auditfwd/internal/fakeslack"
)

// proc is a running auditfwd.
type proc struct {
	cmd    *exec.Cmd
	pid    int
	exited chan struct{}
}

// stop sends SIGTERM and waits for the exit.
func (p *proc) stop() error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(15 * time.Second):
		return errors.New("auditfwd did not exit within 15 s of SIGTERM")
	}
}

func (p *proc) kill() {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// build compiles cmd/auditfwd from the module this command belongs to.
func build(dir string, static bool) (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run bench from inside the auditfwd module (go run ./bench)")
	}
	bin := filepath.Join(dir, "auditfwd")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/auditfwd")
	cmd.Dir = filepath.Dir(gomod)
	if static {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// configYAML is the daemon's config: the default channels of
// configs/example.yaml and its rule with a where (security-oncall, without
// its template: the binary of 820d514 has no templates).
func configYAML(logPath, stateDir, apiURL, metricsAddr, adminAddr string) string {
	return fmt.Sprintf(`audit_log:
  path: %s
  format: auto
  start_at: beginning
  max_line_bytes: 1048576
state_dir: %s
log_level: info
slack:
  api_url: %s
metrics:
  listen: %s
admin:
  listen: %s
  public_url: http://%s
channels:
  - name: security
    slack_channel: "#security"
    actions:
      - login.complete
      - "login.*_failed"
      - login.user_not_authorized
      - "mfa_method.*"
      - user.update
      - user.update_roles
      - "api_token.*"
  - name: security-oncall
    slack_channel: "#security"
    actions: ["login.*", "mfa_method.*"]
    where:
      status: [failed, denied, error]
      user_email: ["!*@bots.*"]
    mention: [S0123ABCD]
  - name: infrastructure
    slack_channel: "#infrastructure"
    actions:
      - "deploy_approval_request.*"
      - release.promote
deploy_approval_alerts:
  enabled: false
  slack_channel: "#deploy-approvals"
  actions: [deploy_approval_request.create, deploy_approval_request.created]
`, logPath, stateDir, apiURL, metricsAddr, adminAddr, adminAddr)
}

// benchToken is the bot token the fake Slack accepts.
const benchToken = "xoxb-bench-token"

// startSlack runs the fake Slack the daemon posts to: no rate limit, the
// channels of configs/example.yaml.
func startSlack() (*fakeslack.Server, error) {
	fs, err := fakeslack.Start()
	if err != nil {
		return nil, err
	}
	fs.AddToken(benchToken)
	fs.AddChannel("C0SECURITY", "security", true)
	fs.AddChannel("C0INFRA", "infrastructure", true)
	return fs, nil
}
