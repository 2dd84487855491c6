package oauthsrv

import (
	"context"
	"errors"
	"net"
	"net/url"

	"github.com/auditfwd/auditfwd/internal/slack"
	"github.com/auditfwd/auditfwd/internal/token"
)

// SlackExchange returns the Options.Exchange that trades a code with Slack's
// oauth.v2.access at o.APIURL.
func SlackExchange(o slack.Options, clientID, clientSecret string) func(ctx context.Context, code, redirectURI string) (token.Token, error) {
	return func(ctx context.Context, code, redirectURI string) (token.Token, error) {
		in, err := slack.Exchange(ctx, o, clientID, clientSecret, code, redirectURI)
		if err != nil {
			return token.Token{}, err
		}
		return token.Token{
			AccessToken: in.AccessToken,
			TeamID:      in.TeamID,
			TeamName:    in.TeamName,
			BotUserID:   in.BotUserID,
			AppID:       in.AppID,
			Scope:       in.Scope,
		}, nil
	}
}

// slackExplain is the default Options.Explain: Slack's reason code and the
// advice for it. An error that did not come from Slack or the network (say,
// "not connected") is shown as it is.
func slackExplain(err error, slackChannel string) (reason, hint string) {
	_, reason, _ = slack.Classify(err)
	if reason == "network" {
		var ne net.Error
		var ue *url.Error
		if !errors.As(err, &ne) && !errors.As(err, &ue) {
			return err.Error(), ""
		}
	}
	return reason, slack.Hint(reason, slackChannel)
}
