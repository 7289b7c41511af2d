package upgrade_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
)

// TestScheduleWhileDown: drawbridge is not running when a window opens. At its next start
// it runs the scheduled run if the window is still open, and expires it, saying why, if
// the window has closed.
func TestScheduleWhileDown(t *testing.T) {
	t.Parallel()
	services(t)
	kc := kongtest.New(t, kongtest.Options{Nodes: 1, PG: sharedPG})
	_, cfg := kc.WriteConfig(kongtest.ConfigOptions{PrometheusURL: sharedProm.URL(), ApprovalTTL: 4 * time.Hour,
		Extra: "    windows: [nightly]",
		Top:   "windows:\n  - {name: nightly, cron: \"0 3 * * *\", duration: 1h, timezone: America/New_York, remind_before: 30m}"})
	clock := fakeclock.New(time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC))
	store, err := storage.Open(cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	engine := func() *upgrade.Engine {
		o := nodeWatch(wire.EngineOptions(cfg, store, nil))
		o.Clock = clock
		e, err := upgrade.New(o)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	ctx := context.Background()
	e := engine()
	if err := e.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	r1, sch, err := e.Schedule(ctx, upgrade.ScheduleRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR", When: "next"})
	if err != nil {
		t.Fatal(err)
	}
	// 03:00 New York is 08:00 UTC in November.
	if want := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC); !sch.OpensAt.Equal(want) || !sch.RemindAt.Equal(want.Add(-30*time.Minute)) {
		t.Fatalf("opens %s, prepares %s", sch.OpensAt, sch.RemindAt)
	}
	e.Close() // drawbridge goes down

	// It comes back while the window is open: the run goes ahead.
	clock.Set(time.Date(2026, 11, 26, 8, 20, 0, 0, time.UTC))
	e = engine()
	if err := e.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	waitStore(t, store, r1.ID, domain.StateAwaitingApproval)
	if _, err := e.Unschedule(ctx, r1.ID, "U0OPERATOR"); err != nil { // cancelled at the gate: an abort
		t.Fatal(err)
	}
	waitStore(t, store, r1.ID, domain.StateAborted)
	e.Close()

	// A second one; drawbridge is down for the whole window: expired, with the reason.
	e = engine()
	if err := e.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	r2, _, err := e.Schedule(ctx, upgrade.ScheduleRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR", When: "nightly"})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	clock.Set(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	e = engine()
	defer e.Close()
	if err := e.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	waitStore(t, store, r2.ID, domain.StateExpired)
	run, _ := store.GetRun(ctx, r2.ID)
	if !strings.Contains(run.Reason, "drawbridge was not running when it opened") {
		t.Errorf("reason %q", run.Reason)
	}
	kc.WantVersions("3.4.2")
}
