package storage

import (
	"errors"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

func TestSchedules(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	for _, c := range []string{"a", "b", "c", "d"} {
		mustRun(t, s, c, domain.StateScheduled)
	}
	sunday := clock.Now().Add(72 * time.Hour)
	sched := func(run domain.RunID, opens time.Time) Schedule {
		return Schedule{Run: run, Cluster: "c", Version: "3.9.1", Window: "w", OpensAt: opens, ClosesAt: opens.Add(2 * time.Hour), RemindAt: opens.Add(-time.Hour), CreatedBy: "U1"}
	}
	// Run 3 opens first; runs 2 and 4 share an opening time.
	for _, sc := range []Schedule{sched(4, sunday), sched(2, sunday), sched(3, sunday.Add(-24*time.Hour)), sched(1, sunday.Add(time.Hour))} {
		mustDo(t, s.PutSchedule(ctx, sc))
	}
	got, err := s.GetSchedule(ctx, 2)
	mustDo(t, err)
	want := sched(2, sunday)
	want.CreatedAt = clock.Now()
	assertEqual(t, "GetSchedule", got, want)

	// Replace: the reminder went out.
	clock.Advance(time.Hour)
	want.Reminded = true
	mustDo(t, s.PutSchedule(ctx, want))
	got, err = s.GetSchedule(ctx, 2)
	mustDo(t, err)
	assertEqual(t, "replaced schedule", got, want)

	list, err := s.ListSchedules(ctx)
	mustDo(t, err)
	var order []domain.RunID
	for _, sc := range list {
		order = append(order, sc.Run)
	}
	assertEqual(t, "ListSchedules order", order, []domain.RunID{3, 2, 4, 1})

	mustDo(t, s.DeleteSchedule(ctx, 2))
	if _, err := s.GetSchedule(ctx, 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetSchedule after delete = %v, want ErrNotFound", err)
	}
	wantErrIs(t, s.DeleteSchedule(ctx, 2), ErrNotFound)
	wantErrIs(t, s.PutSchedule(ctx, sched(9, sunday)), ErrNotFound)
	if err := s.PutSchedule(ctx, Schedule{Run: 1}); err == nil {
		t.Error("PutSchedule without OpensAt succeeded")
	}
	list, err = s.ListSchedules(ctx)
	mustDo(t, err)
	if len(list) != 3 {
		t.Errorf("%d schedules left, want 3", len(list))
	}
}

// TestCreateScheduledRun: the run, its schedule and its audit event are stored together,
// or, when the cluster is busy, none of them.
func TestCreateScheduledRun(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	opens := time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)
	sc := Schedule{Cluster: "prod", Version: "3.5.0", Window: "sunday", OpensAt: opens, ClosesAt: opens.Add(2 * time.Hour), RemindAt: opens.Add(-time.Hour)}
	run, got, err := s.CreateScheduledRun(ctx, domain.Run{Cluster: "prod", To: "3.5.0", State: domain.StateScheduled}, sc, AuditEvent{Actor: "U1", Action: "schedule"})
	mustDo(t, err)
	if got.Run != run.ID || got.Run == 0 {
		t.Fatalf("schedule of run %s, want the new run %s", got.Run, run.ID)
	}
	stored, err := s.GetSchedule(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "stored schedule", stored.Window, "sunday")
	evs, err := s.Audit(ctx, AuditFilter{Run: run.ID})
	mustDo(t, err)
	if len(evs) != 1 || evs[0].Action != "schedule" {
		t.Errorf("audit of the new run: %+v", evs)
	}

	_, _, err = s.CreateScheduledRun(ctx, domain.Run{Cluster: "prod", To: "3.6.1", State: domain.StateScheduled}, sc, AuditEvent{Actor: "U1", Action: "schedule"})
	if !errors.Is(err, ErrClusterBusy) {
		t.Fatalf("second run on a busy cluster: %v, want ErrClusterBusy", err)
	}
	all, err := s.ListSchedules(ctx)
	mustDo(t, err)
	runs, err := s.ListRuns(ctx, RunFilter{})
	mustDo(t, err)
	if len(all) != 1 || len(runs) != 1 {
		t.Errorf("after the refused run: %d schedules, %d runs; want 1 and 1", len(all), len(runs))
	}
	if _, _, err := s.CreateScheduledRun(ctx, domain.Run{Cluster: "stage", State: domain.StateScheduled}, Schedule{}); err == nil {
		t.Error("a schedule without an opening time was accepted")
	}
}

// TestScheduleGoesWithItsState: a run's schedule lives only while the run is scheduled;
// the change that moves it on (preparing, aborted) drops it in the same transaction, and
// other changes keep it.
func TestScheduleGoesWithItsState(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	opens := clock.Now().Add(24 * time.Hour)
	for _, tc := range []struct {
		cluster string
		to      domain.RunState
		keeps   bool
	}{
		{"prepares", domain.StatePreparing, false},
		{"aborted", domain.StateAborted, false},
		{"stays", domain.StateScheduled, true},
	} {
		run := mustRun(t, s, tc.cluster, domain.StateScheduled)
		mustDo(t, s.PutSchedule(ctx, Schedule{Run: run.ID, Cluster: tc.cluster, Version: "3.5.0", OpensAt: opens}))
		_, err := s.UpdateRun(ctx, run.ID, func(r *domain.Run) error { r.State = tc.to; return nil })
		mustDo(t, err)
		_, err = s.GetSchedule(ctx, run.ID)
		if kept := err == nil; kept != tc.keeps {
			t.Errorf("%s → %s: schedule kept %v, want %v (%v)", domain.StateScheduled, tc.to, kept, tc.keeps, err)
		}
	}
}
