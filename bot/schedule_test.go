package bot_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/fakeclock"
	"github.com/drawbridge/drawbridge/storage"
)

const nightly = `windows:
  - name: nightly
    cron: "0 3 * * *"
    duration: 1h
    timezone: UTC
    remind_before: 30m
blackouts:
  - name: freeze-week
    from: 2026-12-20T00:00:00Z
    to: 2026-12-27T00:00:00Z`

// TestScheduledRuns, on a clock the test moves: schedule → reminder → approval before
// the window → the upgrade at the opening → succeeded; then a second schedule whose window
// closes unapproved → expired, X untouched.
func TestScheduledRuns(t *testing.T) {
	t.Parallel()
	clock := fakeclock.New(time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC))
	w := newWorld(t, worldOpts{nodes: 2, clock: clock, top: nightly, extra: "    windows: [nightly]", ttl: 4 * time.Hour})

	// Refusals first: nothing may be scheduled where it cannot run.
	for _, tc := range []struct{ text, want string }{
		{"schedule test 3.5.0 2026-11-26T00:30:00Z", "is in the past"},
		{"schedule test 3.5.0 2026-11-26T12:00:00Z", "outside every window of test"},
		{"schedule test 3.5.0 2026-12-21T03:10:00Z", "inside blackout freeze-week"},
		{"schedule test 3.6.1 next", "not a path Kong guarantees"},
		{"schedule test 3.5.0 weekly", `"weekly" is not a window of test`},
	} {
		w.command("U0OPERATOR", channel, tc.text)
		w.ephemeralTo("U0OPERATOR", tc.want)
	}
	if runs, _ := w.store.ListRuns(t.Context(), storage.RunFilter{}); len(runs) != 0 {
		t.Fatalf("refused schedules created runs: %+v", runs)
	}

	w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
	w.ephemeralTo("U0OPERATOR", "Run 1 scheduled: test 3.4.2 → 3.5.0 at Thu 2026-11-26 03:00 UTC")
	w.command("U0OPERATOR", channel, "schedule test 3.5.0 next")
	w.ephemeralTo("U0OPERATOR", "test already has run 1 (scheduled)")
	w.command("U0OPERATOR", channel, "windows")
	w.ephemeralTo("U0OPERATOR", "window *nightly*: Thu 2026-11-26 03:00 UTC; Fri 2026-11-27 03:00 UTC; Sat 2026-11-28 03:00 UTC")

	// The reminder: at 02:30 the run prepares and its gate opens, approvers asked.
	clock.Set(time.Date(2026, 11, 26, 2, 30, 0, 0, time.UTC))
	approve := w.waitButton("approve")
	w.waitFor("the reminder", func() bool {
		m, _ := w.statusMessage()
		for _, r := range m.Replies {
			if strings.Contains(r.Text, "Approval needed for run 1") {
				return true
			}
		}
		return false
	})
	clock.Set(time.Date(2026, 11, 26, 2, 35, 0, 0, time.UTC))
	w.click("U0APPROVER", "approve", approve, "")
	w.poll("the approval", func() bool {
		aps, _ := w.store.Approvals(t.Context(), 1)
		return len(aps) == 1
	})
	if run, _ := w.store.GetRun(t.Context(), 1); run.State != domain.StateAwaitingApproval || !run.DowntimeStart.IsZero() {
		t.Fatalf("approved before the window, the run is %s (downtime %s)", run.State, run.DowntimeStart)
	}
	w.c.WantVersions("3.4.2")

	// The window opens: the downtime starts at the opening.
	opening := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	clock.Set(opening)
	w.poll("the watch", func() bool {
		run, _ := w.store.GetRun(t.Context(), 1)
		return run.State == domain.StateWatching
	})
	run, _ := w.store.GetRun(t.Context(), 1)
	if !run.DowntimeStart.Equal(opening) {
		t.Errorf("downtime started at %s, want the opening %s", run.DowntimeStart, opening)
	}
	advanceUntil(t, w, clock, 1, domain.StateAwaitingDecommission)
	w.c.WantVersions("3.5.0")
	w.command("U0OPERATOR", channel, "decommission 1")
	w.waitRun(1, domain.StateSucceeded)

	// A second schedule nobody approves: the window closes, the run expires, X untouched.
	w.command("U0OPERATOR", channel, "schedule test 3.6.0 nightly")
	w.ephemeralTo("U0OPERATOR", "Run 2 scheduled: test 3.5.0 → 3.6.0 at Fri 2026-11-27 03:00 UTC")
	clock.Set(time.Date(2026, 11, 27, 2, 30, 0, 0, time.UTC))
	w.poll("the second gate", func() bool {
		run, _ := w.store.GetRun(t.Context(), 2)
		return run.State == domain.StateAwaitingApproval
	})
	clock.Set(time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC))
	expired := w.waitRun(2, domain.StateExpired)
	if !strings.Contains(expired.Reason, "window nightly closed at 2026-11-27T04:00:00Z before the run was approved") {
		t.Errorf("reason %q", expired.Reason)
	}
	if !expired.DowntimeStart.IsZero() {
		t.Error("the expired run had downtime")
	}
	w.c.WantVersions("3.5.0")
}

// advanceUntil moves the clock in small steps (the watch waits on it) until run id is in
// state want.
func advanceUntil(t *testing.T, w *world, clock *fakeclock.Clock, id domain.RunID, want domain.RunState) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		run, err := w.store.GetRun(t.Context(), id)
		if err == nil && run.State == want {
			return
		}
		if time.Now().After(deadline) || (err == nil && run.State.Terminal()) {
			t.Fatalf("run %s is %s (%s), want %s", id, run.State, run.Reason, want)
		}
		clock.Advance(250 * time.Millisecond)
		time.Sleep(20 * time.Millisecond) // let the watch take its turn before the next step
	}
}
