package upgrade

import "github.com/drawbridge/drawbridge/domain"

// Sink receives events. Emit must not block for long; it runs on the run's goroutine.
type Sink interface {
	Emit(domain.Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(domain.Event)

// Emit calls f.
func (f SinkFunc) Emit(e domain.Event) { f(e) }

type discard struct{}

func (discard) Emit(domain.Event) {}
