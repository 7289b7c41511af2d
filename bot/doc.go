// Package bot is drawbridge's face in Slack: the HTTP and Socket Mode transports
// (signature-verified slash commands and interactions), the command parser, access
// control (operators, approvers, user groups, four-eyes), and the queue that answers
// Slack within three seconds while the work happens elsewhere.
package bot
