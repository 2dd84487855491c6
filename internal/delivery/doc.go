// Package delivery moves routed events from the on-disk spools to Slack: one
// sender per channel, in log order, retrying transient failures with jittered
// backoff, holding everything while the token is invalid, and writing what
// Slack rejects for good to dead-letter.jsonl. It never reads the log.
//
// Reading order: service.go (the pipeline's Sink: spools per channel, opened
// at start-up and reload), sender.go (the loop of one channel), policy.go
// (what to do after each post, a pure function), seam.go (the Messenger
// interface the senders post through), connection.go (the token in use),
// render.go (what messages show: redaction and templates, compiled from the
// config and swapped on reload, counted as Slack takes each message).
// docs/guarantees.md says what this adds up to for an operator.
package delivery
