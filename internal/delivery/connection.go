package delivery

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/auditfwd/auditfwd/internal/metrics"
	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/token"
)

// authRecheck is how often a rejected token is tried again with auth.test
// (docs/guarantees.md).
const authRecheck = 30 * time.Second

// Connection holds the Slack token in use and whether Slack accepts it.
// Senders wait on it; the OAuth callback and the token file update it.
type Connection struct {
	dial      func(token string) tokenClient
	tokenPath string
	log       *slog.Logger
	m         *metrics.Metrics

	mu       sync.Mutex
	tok      token.Token
	has      bool
	client   tokenClient
	invalid  string // Slack's reason when it rejected the token
	gen      uint64
	changed  chan struct{}
	lastTest time.Time
	onChange []func() // run after a new token is installed, outside the lock

	lastProblem string // the token file's last problem logged (Run's goroutine)
}

// tokenProblem logs why the token file cannot be used, once per problem:
// the file is polled every few seconds.
func (c *Connection) tokenProblem(err error) {
	if err.Error() == c.lastProblem {
		return
	}
	c.lastProblem = err.Error()
	if errors.Is(err, token.ErrUnprotected) {
		c.log.Error("Slack token file refused: it is not protected from other users, so it may have been planted or read; the token in use (if any) stays",
			"err", err)
		return
	}
	c.log.Error("cannot read the Slack token", "err", err)
}

// onTokenChange registers f to run whenever a new token is installed.
func (c *Connection) onTokenChange(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.onChange = append(c.onChange, f)
}

func (c *Connection) tokenChanged() {
	c.mu.Lock()
	hooks := append([]func(){}, c.onChange...)
	c.mu.Unlock()
	for _, f := range hooks {
		f()
	}
}

// NewConnection loads the token from SLACK_BOT_TOKEN or tokenPath if there is one.
// base holds the API URL, timeout and observer; the token is set per token.
func NewConnection(base slack.Options, tokenPath string, log *slog.Logger, m *metrics.Metrics) *Connection {
	c := &Connection{dial: dialSlack(base), tokenPath: tokenPath, log: log, m: m, changed: make(chan struct{})}
	if t, ok, err := token.Resolve(tokenPath); err != nil {
		c.tokenProblem(err)
	} else if ok {
		c.setLocked(t)
	}
	c.publishLocked()
	return c
}

// session is the token in use as a sender sees it.
type session struct {
	Slack tokenClient // nil before the first token
	Gen   uint64      // the token's generation: Invalid names it
	// Usable: a token is installed and Slack has not rejected it. Senders
	// post only then, and otherwise wait for Changed.
	Usable  bool
	Changed <-chan struct{} // closed at the next change
}

// session returns the token in use.
func (c *Connection) session() session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return session{Slack: c.client, Gen: c.gen, Usable: c.has && c.invalid == "", Changed: c.changed}
}

// current returns the client for the current token even when Slack
// rejected it (for the Test button, which reports Slack's answer).
func (c *Connection) current() (tokenClient, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.client, c.has
}

// Set installs a new token (OAuth callback, or a changed token file).
func (c *Connection) Set(t token.Token) {
	c.mu.Lock()
	c.setLocked(t)
	c.log.Info("Slack token installed; delivering", "team", t.TeamName, "bot_user", t.BotUserID)
	c.broadcastLocked()
	c.mu.Unlock()
	c.tokenChanged()
}

func (c *Connection) setLocked(t token.Token) {
	c.tok, c.has, c.invalid = t, true, ""
	c.client = c.dial(t.AccessToken)
	c.gen++
}

// Invalid records that Slack rejected the token of generation gen.
func (c *Connection) Invalid(gen uint64, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.invalid != "" {
		return
	}
	c.invalid = reason
	c.lastTest = time.Now()
	fix := slack.Hint(reason, "", token.EnvOverride())
	c.log.Error("Slack rejected the bot token; delivery is paused, nothing is dropped",
		"reason", reason, "fix", fix)
	c.broadcastLocked()
}

// State describes the connection for the admin page.
func (c *Connection) State() (connected bool, t token.Token, problem string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.has:
		problem = "not connected"
	case c.invalid != "":
		problem = "Slack rejected the token (" + c.invalid + "): reconnect"
	}
	return c.has && c.invalid == "", c.tok, problem
}

func (c *Connection) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
	c.publishLocked()
}

func (c *Connection) publishLocked() {
	if c.has && c.invalid == "" {
		c.m.SlackConnected.Set(1)
	} else {
		c.m.SlackConnected.Set(0)
	}
}

// Run watches for a new token (file or environment) and re-tests a rejected
// one with auth.test at most every authRecheck, until ctx is done.
func (c *Connection) Run(ctx context.Context) {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t, ok, err := token.Resolve(c.tokenPath)
		if err != nil {
			c.tokenProblem(err)
			continue
		}
		c.lastProblem = ""
		c.mu.Lock()
		switch {
		case ok && (!c.has || t.AccessToken != c.tok.AccessToken):
			c.setLocked(t)
			c.log.Info("new Slack token found; delivering", "team", t.TeamName)
			c.broadcastLocked()
			c.mu.Unlock()
			c.tokenChanged()
			continue
		case c.has && c.invalid != "" && time.Since(c.lastTest) >= authRecheck:
			client, gen := c.client, c.gen
			c.lastTest = time.Now()
			c.mu.Unlock()
			tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err := client.AuthTest(tctx)
			cancel()
			if err == nil {
				c.mu.Lock()
				if c.gen == gen && c.invalid != "" {
					c.invalid = ""
					c.log.Info("Slack accepts the token again; delivering")
					c.broadcastLocked()
				}
				c.mu.Unlock()
			}
			continue
		}
		c.mu.Unlock()
	}
}
