package upgrade

import (
	"context"

	"github.com/drawbridge/drawbridge/domain"
)

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

// emit hands an event to the sink with its snapshot: the run as stored now, with its steps,
// approvals and gate, so that what renders it never calls back into the engine. A watch
// interval or a chart carries the run alone (they are frequent, and show only the watch); an
// event given its snapshot keeps it.
func (e *Engine) emit(ctx context.Context, ev domain.Event) {
	switch {
	case ev.Snapshot.Run.ID != 0:
		// The caller read it already (a decision).
	case ev.Kind == domain.EventWatch || ev.Kind == domain.EventCharts:
		ev.Snapshot = domain.Status{Run: ev.Run}
	default:
		st, err := e.Status(context.WithoutCancel(ctx), ev.Run.ID)
		if err != nil {
			e.opts.Log.Error("read the run for its event", "run", ev.Run.ID.String(), "event", string(ev.Kind), "err", err)
			return
		}
		ev.Snapshot = st
	}
	e.opts.Sink.Emit(ev)
}
