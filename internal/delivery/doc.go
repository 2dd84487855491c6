// Package delivery moves routed events from the on-disk spools to Slack: one
// sender per channel, in log order, retrying transient failures with jittered
// backoff, holding everything while the token is invalid, and writing what
// Slack rejects for good to dead-letter.jsonl. It never reads the log.
package delivery
