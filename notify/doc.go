// Package notify renders runs into Slack messages (Block Kit status messages, step
// thread replies, alerts, summaries) as pure functions, and delivers them through the
// durable outbox in storage: in order per run, retried on rate limits and outages, never
// posted twice.
//
// Rendering (status.go, step.go) turns a RunView into a Message: StatusMessage is the one
// message per run, edited in place, with the step checklist and the buttons that fit the
// state (action IDs ActionApprove…ActionResume, value "run=<id>;rev=<revision>" so that
// stale clicks can be told apart); StepReply, NoticeReply and SummaryReply go into its
// thread. Renderers never read the clock (a Slack message is not re-rendered as time
// passes, so they show start times, not running durations) and always stay inside Block
// Kit's limits, cutting text visibly; CheckLimits states those limits. User and command text
// is escaped, so output can never mention @channel or forge a link.
//
// Sink (sink.go) is the engine's event sink: it renders each event from the snapshot the
// event carries (never calling the engine back) and queues the messages under keys it owns.
//
// Delivery has two halves. Outbox (the enqueue side, used by the bot and the engine's
// event sink) stores each Slack call in bbolt: Upsert (post once, then chat.update, by
// key: StatusKey), Reply (a thread reply posted once under its own key: StepKey,
// SummaryKey, NoticeKey), Ephemeral, Upload (a PNG into the thread, files upload v2).
// Deliverer drains it through Slack, a thin adapter over slack-go (NewSlack) whose errors
// are classified where they happen (Classify: rate limited with Retry-After, transient,
// permanent). See Deliverer for the guarantees and what "never twice" cannot promise.
//
// Words: every sentence outside a message's layout (a check's detail, a run's reason, a
// notice, a line of a step's output, a watch reading's explanation) comes from the
// subpackage words, which the engine, the watch and the bot call too; messages here arrange
// those sentences and the run's facts into Block Kit.
//
// Metrics: drawbridge_slack_delivered_total{method},
// drawbridge_slack_delivery_errors_total{method,error} (error is a low-cardinality code,
// see Classify) and drawbridge_outbox_pending.
package notify
