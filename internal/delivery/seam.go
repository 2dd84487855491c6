package delivery

import (
	"context"

	"github.com/auditfwd/auditfwd/internal/slack"
)

// Messenger is the seam between the senders and Slack: post a message,
// reply in a thread, edit a message. Each call is one attempt; a failure is
// an error slack.Classify understands, and decide (policy.go) says what comes
// next. internal/slack's Client satisfies it; unit tests use a fake. Threads
// build on Reply and Update and on the channel ID and ts that Post returns.
type Messenger interface {
	Post(ctx context.Context, channelID string, m slack.Message) (slack.Posted, error)
	Reply(ctx context.Context, channelID, threadTS string, m slack.Message) (slack.Posted, error)
	Update(ctx context.Context, channelID, ts string, m slack.Message) (slack.Posted, error)
}

// tokenClient is what a Connection holds for one token: the Messenger the
// senders post through, and what resolving channel names and rechecking a
// rejected token need.
type tokenClient interface {
	Messenger
	ListChannels(ctx context.Context) ([]slack.Channel, error)
	AuthTest(ctx context.Context) (slack.Identity, error)
}

// dialSlack returns the production Slack for a token.
func dialSlack(base slack.Options) func(token string) tokenClient {
	return func(token string) tokenClient {
		o := base
		o.Token = token
		return slack.New(o)
	}
}
