// Package token stores the Slack bot token the OAuth install produced. It
// owns the token file's format and permissions; it never logs a token.
package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/auditfwd/auditfwd/internal/fsutil"
)

// EnvVar, when set, overrides the token file (docs/configuration.md).
const EnvVar = "SLACK_BOT_TOKEN"

// Token is what the OAuth install returns and delivery needs.
type Token struct {
	AccessToken string    `json:"access_token"`
	TeamID      string    `json:"team_id,omitempty"`
	TeamName    string    `json:"team_name,omitempty"`
	BotUserID   string    `json:"bot_user_id,omitempty"`
	AppID       string    `json:"app_id,omitempty"`
	Scope       string    `json:"scope,omitempty"`
	InstalledAt time.Time `json:"installed_at,omitempty"`
}

// String redacts the secret so a token never reaches a log by accident.
func (t Token) String() string {
	return fmt.Sprintf("slack token for team %q (bot %s)", t.TeamName, t.BotUserID)
}

// GoString redacts for %#v too.
func (t Token) GoString() string { return t.String() }

// ErrUnprotected is wrapped by Load's error for a token file that another
// user could read or replace.
var ErrUnprotected = errors.New("token file not protected")

// Load reads the token file. A missing file gives an error matching
// os.ErrNotExist. Like ssh with an unprotected key, it refuses a file that
// is a symbolic link, belongs to another user or is readable by group or
// others (an error wrapping ErrUnprotected that names the chmod or chown
// that fixes it): such a token may have been planted, or already read.
func Load(path string) (Token, error) {
	var t Token
	data, err := readProtected(path)
	if err != nil {
		return t, fmt.Errorf("read token %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &t); err != nil {
		// The parse error could quote file content: keep it out of the message.
		return Token{}, fmt.Errorf("read token %s: not valid JSON", path)
	}
	if t.AccessToken == "" {
		return Token{}, fmt.Errorf("read token %s: no access_token", path)
	}
	return t, nil
}

func readProtected(path string) ([]byte, error) {
	f, err := fsutil.Open(path)
	if errors.Is(err, fsutil.ErrSymlink) {
		return nil, fmt.Errorf("%w: %w", ErrUnprotected, err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := fsutil.CheckOwner(path, fi, 0o077, "chmod 600 "+path); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnprotected, err)
	}
	return io.ReadAll(f)
}

// EnvOverride returns EnvVar when it is set, so that a token saved to the
// file is not the one in use, and "" otherwise.
func EnvOverride() string {
	if strings.TrimSpace(os.Getenv(EnvVar)) != "" {
		return EnvVar
	}
	return ""
}

// Resolve returns the token delivery should use: SLACK_BOT_TOKEN wins over the file.
// ok is false when neither exists.
func Resolve(path string) (t Token, ok bool, err error) {
	if v := strings.TrimSpace(os.Getenv(EnvVar)); v != "" {
		return Token{AccessToken: v}, true, nil
	}
	t, err = Load(path)
	if errors.Is(err, os.ErrNotExist) {
		return Token{}, false, nil
	}
	if err != nil {
		return Token{}, false, err
	}
	return t, true, nil
}

// Save writes the token atomically with mode 0600.
func Save(path string, t Token) error {
	data, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("save token: %w", err)
	}
	return fsutil.WriteFileAtomic(path, append(data, '\n'), 0o600)
}
