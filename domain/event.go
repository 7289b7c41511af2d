package domain

// EventKind says what happened to a run.
type EventKind string

// Event kinds.
const (
	EventStateChanged EventKind = "state_changed"
	EventStepStarted  EventKind = "step_started"
	EventStepFinished EventKind = "step_finished"
	EventNotice       EventKind = "notice" // something people should read: a warning, the freeze
	EventWatch        EventKind = "watch"  // the watch's state after an interval (Report)
	EventCharts       EventKind = "charts" // PNG charts of the watch (Charts)
	EventAlert        EventKind = "alert"  // a breach (Breach); Auto when the rollback starts by itself
	// EventDecision: an approver approved or rejected the run at its gate (Actor,
	// Decision); the run's goroutine acts on it next.
	EventDecision EventKind = "decision"
)

// Event is emitted after the change it describes has been stored, with the run as it was
// then. notify renders it from the event alone.
type Event struct {
	Kind EventKind
	Run  Run // the run as the part that emitted the event knew it
	// Snapshot is the run with everything recorded about it, read when the event was
	// emitted: what the status message and the replies show. For watch and chart events it
	// holds the run alone.
	Snapshot Status
	Step     *StepRecord  // for step events
	Message  string       // for notices and state changes: why
	Report   *WatchReport // EventWatch
	Charts   []Chart      // EventCharts
	Breach   *BreachError // EventAlert
	Auto     bool         // EventAlert: auto_rollback starts the rollback
	Moment   string       // EventCharts: "breach" or "end"
	// EventDecision: who decided, and what.
	Actor    string
	Decision Decision
}
