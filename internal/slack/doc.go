// Package slack owns Slack's wire format and the layout of auditfwd's
// messages: its Renderer turns events into Block Kit messages that fit
// Slack's limits, redacts every event value (package redact) and then
// escapes it for mrkdwn, lays out rules' templates (package layout), and it
// talks to the Web API through
// slack-go (chat.postMessage, conversations.list, auth.test,
// oauth.v2.access), resolves channel names to IDs and classifies Slack's
// errors so that the caller knows whether to retry, shrink, dead-letter or
// hold.
//
// It never retries on its own and knows nothing about files, checkpoints,
// routing rules or queues: the caller owns scheduling, backoff and metrics.
package slack
