// Package bot is drawbridge's face in Slack: the HTTP and Socket Mode transports
// (signature-verified slash commands and interactions), the command parser, one command
// table for typed commands and buttons (who may, what it needs, what it calls), access
// control (operators, approvers, user groups, four-eyes), and the queue that answers Slack
// within three seconds while the work happens elsewhere. The engine's events are rendered
// by notify's sink, not here.
package bot
