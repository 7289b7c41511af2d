// Package notify renders runs into Slack messages (Block Kit status messages, step
// thread replies, alerts, summaries) as pure functions, and delivers them through the
// durable outbox in storage: in order per run, retried on rate limits and outages, never
// posted twice.
package notify
