package delivery

import (
	"context"
	"time"

	"github.com/auditfwd/auditfwd/internal/config"
	"github.com/auditfwd/auditfwd/internal/slack"
)

// PostTestMessage posts the test notification for t: the admin page's Test
// button and `auditfwd test NAME` both send it through here.
func PostTestMessage(ctx context.Context, m Messenger, r *slack.Resolver, t config.Target) error {
	id, err := r.Resolve(ctx, t.SlackChannel)
	if err != nil {
		return err
	}
	_, err = m.Post(ctx, id, slack.TestMessage(t.Name, t.SlackChannel, time.Now()))
	return err
}
