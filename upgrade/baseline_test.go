package upgrade

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/storage"
)

// TestEarlierRunsLeftOutOfTheBaseline: the spans of earlier runs on the cluster that
// stopped nodes (a finished one until its end, a going one until now) are what the
// baseline leaves out; runs on other clusters, runs that never stopped a node and the
// current run are not.
func TestEarlierRunsLeftOutOfTheBaseline(t *testing.T) {
	store, err := storage.Open(filepath.Join(t.TempDir(), "state.db"), storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	now := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	clock := fakeclock.New(now)
	e := &Engine{opts: Options{Store: store, Clock: clock, Log: slog.New(slog.DiscardHandler)}}
	ctx := t.Context()
	mk := func(cluster string, state domain.RunState, downAt time.Time) domain.Run {
		t.Helper()
		r, err := store.CreateRun(ctx, domain.Run{Cluster: cluster, State: domain.StatePreparing})
		if err != nil {
			t.Fatal(err)
		}
		r, err = store.UpdateRun(ctx, r.ID, func(r *domain.Run) error { r.State, r.DowntimeStart = state, downAt; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rolledBack := mk("demo", domain.StateRolledBack, now.Add(-3*time.Minute))
	mk("demo", domain.StateFailedBeforeDowntime, time.Time{}) // never stopped a node
	mk("other", domain.StateSucceeded, now.Add(-time.Minute))
	current := mk("demo", domain.StateWatching, now.Add(-30*time.Second))

	got := e.earlierRuns(ctx, "demo", 0) // plan: no run of its own
	if len(got) != 2 {
		t.Fatalf("earlierRuns = %+v, want the rolled-back run and the going one", got)
	}
	if got[0].From.Equal(current.DowntimeStart) {
		got[0], got[1] = got[1], got[0]
	}
	if !got[0].From.Equal(rolledBack.DowntimeStart) || !got[0].To.Equal(rolledBack.UpdatedAt) {
		t.Errorf("finished run's span %+v, want %s–%s", got[0], rolledBack.DowntimeStart, rolledBack.UpdatedAt)
	}
	if !got[1].To.Equal(now) {
		t.Errorf("a going run's span ends %s, want now (%s)", got[1].To, now)
	}
	if got := e.earlierRuns(ctx, "demo", current.ID); len(got) != 1 {
		t.Errorf("with the current run left out: %+v, want only the rolled-back run", got)
	}
}
