package oauthsrv

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Manifest is the Slack app manifest (YAML) to paste into "Create New App →
// From an app manifest": a bot user named auditfwd with the scopes
// channels:read and chat:write, the OAuth redirect on publicURL, and no events.
func Manifest(publicURL string) string {
	type displayInformation struct {
		Name            string `yaml:"name"`
		Description     string `yaml:"description"`
		BackgroundColor string `yaml:"background_color"`
	}
	type botUser struct {
		DisplayName  string `yaml:"display_name"`
		AlwaysOnline bool   `yaml:"always_online"`
	}
	type features struct {
		BotUser botUser `yaml:"bot_user"`
	}
	type scopes struct {
		Bot []string `yaml:"bot"`
	}
	type oauthConfig struct {
		RedirectURLs []string `yaml:"redirect_urls"`
		Scopes       scopes   `yaml:"scopes"`
	}
	type settings struct {
		OrgDeployEnabled     bool `yaml:"org_deploy_enabled"`
		SocketModeEnabled    bool `yaml:"socket_mode_enabled"`
		TokenRotationEnabled bool `yaml:"token_rotation_enabled"`
	}
	m := struct {
		DisplayInformation displayInformation `yaml:"display_information"`
		Features           features           `yaml:"features"`
		OAuthConfig        oauthConfig        `yaml:"oauth_config"`
		Settings           settings           `yaml:"settings"`
	}{
		DisplayInformation: displayInformation{
			Name:            "auditfwd",
			Description:     "Posts Rack Gateway audit events to Slack channels.",
			BackgroundColor: "#1d3557",
		},
		Features:    features{BotUser: botUser{DisplayName: "auditfwd"}},
		OAuthConfig: oauthConfig{RedirectURLs: []string{redirectURL(publicURL)}, Scopes: scopes{Bot: []string{"channels:read", "chat:write"}}},
	}
	var buf strings.Builder
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		panic("oauthsrv: manifest: " + err.Error()) // plain strings always encode
	}
	enc.Close()
	return buf.String()
}
