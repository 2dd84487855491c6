package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	slackapi "github.com/slack-go/slack"
)

// DefaultTimeout bounds one HTTP attempt when Options.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Options configures a Client and Exchange.
type Options struct {
	APIURL  string        // Web API base URL, e.g. https://slack.com/api/ (a missing trailing "/" is added)
	Token   string        // bot token (xoxb-…); unused by Exchange
	Timeout time.Duration // per HTTP attempt; DefaultTimeout when zero
	// Observe, when set, is called once for every Web API request with the
	// method name taken from the URL ("chat.postMessage", "conversations.list",
	// "auth.test", "oauth.v2.access") and how long the request took, failed
	// requests included.
	Observe func(method string, d time.Duration)
}

func (o Options) apiURL() string {
	u := o.APIURL
	if u == "" {
		u = slackapi.APIURL
	}
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

func (o Options) httpClient() *http.Client {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	var rt http.RoundTripper = http.DefaultTransport
	if o.Observe != nil {
		rt = observer{base: rt, observe: o.Observe}
	}
	return &http.Client{Timeout: timeout, Transport: rt}
}

// observer reports every request's Web API method and duration.
type observer struct {
	base    http.RoundTripper
	observe func(method string, d time.Duration)
}

func (o observer) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := o.base.RoundTrip(req)
	o.observe(path.Base(req.URL.Path), time.Since(start))
	return resp, err
}

// Client posts messages and reads channels with one bot token. It never
// retries: Classify tells the caller what to do with an error. Safe for
// concurrent use.
type Client struct {
	http   *http.Client
	apiURL string
	token  string
	// answers are the buffers message calls' answers are read into: Slack
	// echoes every message, so an answer is about as large as the message.
	answers sync.Pool
	// bodies are the message calls' request bodies (*requestBody), reused
	// once the transport closed them.
	bodies sync.Pool
}

// requestBody is a message call's JSON body. The transport closes it when
// it has written it, which may be after Client.Do returned; only then does
// its buffer go back to the pool.
type requestBody struct {
	bytes.Reader
	buf    []byte
	pool   *sync.Pool
	closed atomic.Bool
}

func (b *requestBody) Close() error {
	if !b.closed.Swap(true) && cap(b.buf) <= 1<<20 { // a huge body's buffer is not kept
		b.pool.Put(b)
	}
	return nil
}

// New returns a Client for o.Token. slack-go's own retries stay off.
func New(o Options) *Client {
	hc := o.httpClient()
	return &Client{
		http:   hc,
		apiURL: o.apiURL(),
		token:  o.Token,
	}
}

// Posted is where Slack put a message: the channel's ID and the message's
// ts, which chat.update and thread replies name.
type Posted struct {
	Channel string
	TS      string
	// ThreadTS is the thread Slack put a reply in (its answer's
	// message.thread_ts). A reply answered without it went to the channel
	// instead: its parent is gone.
	ThreadTS string
}

// Post sends m to a channel ID with chat.postMessage, link and media
// unfurls off. m must already be escaped (Pack, TestMessage and TextOnly
// build such messages).
func (c *Client) Post(ctx context.Context, channelID string, m Message) (Posted, error) {
	return c.send(ctx, "chat.postMessage", call{channel: channelID, noUnfurl: true}, m)
}

// Reply posts m in the thread of the parent message threadTS (a parent's
// ts, never a reply's) with chat.postMessage.
func (c *Client) Reply(ctx context.Context, channelID, threadTS string, m Message) (Posted, error) {
	return c.send(ctx, "chat.postMessage", call{channel: channelID, threadTS: threadTS, noUnfurl: true}, m)
}

// Update replaces the text and blocks of the message ts with chat.update.
// channelID must be an ID: Slack answers a name with channel_not_found.
func (c *Client) Update(ctx context.Context, channelID, ts string, m Message) (Posted, error) {
	return c.send(ctx, "chat.update", call{channel: channelID, ts: ts}, m)
}

// send makes one message call (chat.postMessage, chat.update): a JSON body
// (wire.go) with m's text and blocks.
//
// These are the calls made here rather than through slack-go: Slack answers
// with the whole message echoed back, and slack-go decodes that echo into
// Block Kit structs — measured at about 40 % of auditfwd's CPU while it
// catches up (BENCHMARKS.md). Only ok, error, channel, ts and the message's
// thread_ts are read here.
// Failures come back as slack-go's own error types, as from every other
// call, so Classify treats them alike.
func (c *Client) send(ctx context.Context, method string, args call, m Message) (Posted, error) {
	body, _ := c.bodies.Get().(*requestBody)
	if body == nil {
		body = &requestBody{pool: &c.bodies}
	}
	b, err := appendCall(slices.Grow(body.buf[:0], callSize(m)), args, m)
	if err != nil {
		c.bodies.Put(body)
		return Posted{}, fmt.Errorf("%s: %w", method, err)
	}
	body.buf = b
	body.Reset(b)
	body.closed.Store(false)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.apiURL+method, body)
	if err != nil {
		body.Close()
		return Posted{}, fmt.Errorf("%s: %w", method, err)
	}
	req.ContentLength = int64(len(b))
	// A redirect replays the body: written again, as the buffer may be
	// back in the pool by then.
	req.GetBody = func() (io.ReadCloser, error) {
		again, err := appendCall(nil, args, m)
		return io.NopCloser(bytes.NewReader(again)), err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return Posted{}, fmt.Errorf("%s: %w", method, err)
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection reusable
		resp.Body.Close()
	}()
	if err := statusError(resp); err != nil {
		return Posted{}, fmt.Errorf("%s: %w", method, err)
	}
	buf, _ := c.answers.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= 1<<20 { // a huge answer's buffer is not kept
			buf.Reset()
			c.answers.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, 8<<20)); err != nil {
		return Posted{}, fmt.Errorf("%s: reading the answer: %w", method, err)
	}
	a, err := parseAnswer(buf.Bytes())
	if err != nil {
		return Posted{}, fmt.Errorf("%s: reading the answer: %w", method, err)
	}
	if !a.ok {
		return Posted{}, fmt.Errorf("%s: %w", method, slackapi.SlackErrorResponse{Err: a.err})
	}
	return Posted{Channel: a.channel, TS: a.ts, ThreadTS: a.thr}, nil
}

// Channel is a public channel the bot can see.
type Channel struct {
	ID       string
	Name     string
	IsMember bool // the bot was invited (needed to post with chat:write alone)
}

// ListChannels returns every unarchived public channel (conversations.list,
// all pages). It decodes the answer itself, into the three fields it needs:
// slack-go's Channel type is large, and encoding/json keeps what it learns
// about a type for the life of the process (0.2 MB for that one).
func (c *Client) ListChannels(ctx context.Context) ([]Channel, error) {
	var out []Channel
	seen := map[string]bool{}
	form := url.Values{"types": {"public_channel"}, "exclude_archived": {"true"}, "limit": {"200"}}
	for {
		var page struct {
			Channels []struct {
				ID       string `json:"id"`
				Name     string `json:"name"`
				IsMember bool   `json:"is_member"`
			} `json:"channels"`
			Meta struct {
				NextCursor string `json:"next_cursor"`
			} `json:"response_metadata"`
		}
		if err := c.callForm(ctx, "conversations.list", form, &page); err != nil {
			return nil, fmt.Errorf("conversations.list: %w", err)
		}
		for _, ch := range page.Channels {
			out = append(out, Channel{ID: ch.ID, Name: ch.Name, IsMember: ch.IsMember})
		}
		next := page.Meta.NextCursor
		if next == "" || seen[next] {
			return out, nil
		}
		seen[next] = true
		form.Set("cursor", next)
	}
}

// callForm posts form to a Web API method and decodes its JSON answer into
// into, with the errors slack-go would give for the same answers (see
// Classify): HTTP 429 with Retry-After, another status, or ok:false.
func (c *Client) callForm(ctx context.Context, method string, form url.Values, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.apiURL+method, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // keep the connection reusable
		resp.Body.Close()
	}()
	if err := statusError(resp); err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	var status struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &status); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if !status.OK {
		return slackapi.SlackErrorResponse{Err: status.Error}
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	return nil
}

// statusError is the error slack-go gives for an answer's HTTP status: a
// RateLimitedError for 429 with Retry-After, a StatusCodeError for any
// other status but 200, nil for 200.
func statusError(resp *http.Response) error {
	if resp.StatusCode == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs >= 0 {
			return &slackapi.RateLimitedError{RetryAfter: time.Duration(secs) * time.Second}
		}
	}
	if resp.StatusCode != http.StatusOK {
		return slackapi.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	return nil
}

// Identity is who the token belongs to (auth.test).
type Identity struct {
	TeamID, Team string
	UserID, User string
	BotID        string
}

// AuthTest checks the token with auth.test.
func (c *Client) AuthTest(ctx context.Context) (Identity, error) {
	var r struct {
		TeamID string `json:"team_id"`
		Team   string `json:"team"`
		UserID string `json:"user_id"`
		User   string `json:"user"`
		BotID  string `json:"bot_id"`
	}
	if err := c.callForm(ctx, "auth.test", nil, &r); err != nil {
		return Identity{}, fmt.Errorf("auth.test: %w", err)
	}
	return Identity{TeamID: r.TeamID, Team: r.Team, UserID: r.UserID, User: r.User, BotID: r.BotID}, nil
}

// Install is the result of an OAuth v2 installation.
type Install struct {
	AccessToken string
	TokenType   string // "bot"
	Scope       string
	BotUserID   string
	AppID       string
	TeamID      string
	TeamName    string
}

// Exchange trades an OAuth code for a bot token with oauth.v2.access.
// redirectURI must equal the one sent to Slack's authorize page.
func Exchange(ctx context.Context, o Options, clientID, clientSecret, code, redirectURI string) (Install, error) {
	r, err := slackapi.GetOAuthV2ResponseContext(ctx, o.httpClient(), clientID, clientSecret, code, redirectURI,
		slackapi.OAuthOptionAPIURL(o.apiURL()))
	if err != nil {
		return Install{}, fmt.Errorf("oauth.v2.access: %w", err)
	}
	if r.AccessToken == "" {
		return Install{}, fmt.Errorf("oauth.v2.access: %w", slackapi.SlackErrorResponse{Err: "no_access_token"})
	}
	return Install{
		AccessToken: r.AccessToken,
		TokenType:   r.TokenType,
		Scope:       r.Scope,
		BotUserID:   r.BotUserID,
		AppID:       r.AppID,
		TeamID:      r.Team.ID,
		TeamName:    r.Team.Name,
	}, nil
}
