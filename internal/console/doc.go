// Package console is the demo's stand-in for Slack's UI: one local web page
// that looks like a Slack channel, so that a newcomer can run a whole
// upgrade, approval and rollback in the browser with no Slack workspace.
//
// It owns the user's side of Slack. It reads what drawbridge posted from a
// slackfake.Server (messages, threads, edits, ephemerals, uploaded charts)
// and renders the Block Kit and mrkdwn as Slack shows them; it sends what a
// user does to drawbridge's HTTP endpoints as Slack does: slash commands to
// /slack/commands and button clicks as block_actions to /slack/interactions,
// form-encoded and signed with the signing secret (v0). drawbridge's
// immediate answers become "Only visible to you" messages for that user.
//
// The page is static (embedded, no build step, nothing from the network). It
// fetches GET /api/state?user=U… and re-fetches whenever GET /events (SSE)
// reports a change. The JSON endpoints and the page's element IDs and data
// attributes are a stable interface for the demo's browser test; README.md
// in this folder lists them.
package console
