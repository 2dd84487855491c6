// Package oauthsrv is the admin web server: the status page, the Slack OAuth
// install flow and the per-channel Test buttons (docs/slack-setup.md).
//
// It owns HTTP concerns only: Basic auth, the OAuth state, CSRF and the page.
// It knows nothing about tailing or delivery; it reads their status (each
// channel's delivery.ChannelStatus) and asks for test messages through the
// Daemon interface, exchanges codes through an injected func, and hands a
// freshly saved token to Daemon.Connected. It never logs or renders the
// client secret or a token.
package oauthsrv
