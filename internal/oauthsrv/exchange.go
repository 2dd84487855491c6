package oauthsrv

import (
	"context"

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
