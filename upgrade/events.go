package upgrade

import (
	"github.com/drawbridge/drawbridge/storage"
)

// EventKind says what happened to a run.
type EventKind string

const (
	EventStateChanged EventKind = "state_changed"
	EventStepStarted  EventKind = "step_started"
	EventStepFinished EventKind = "step_finished"
	EventNotice       EventKind = "notice" // something people should read: a warning, the freeze, a breach
)

// Event is emitted after the change it describes has been stored. notify/ renders it.
type Event struct {
	Kind    EventKind
	Run     storage.Run
	Step    *storage.StepRecord // for step events
	Message string              // for notices and state changes: why
}

// Sink receives events. Emit must not block for long; it runs on the run's goroutine.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f.
func (f SinkFunc) Emit(e Event) { f(e) }

type discard struct{}

func (discard) Emit(Event) {}
