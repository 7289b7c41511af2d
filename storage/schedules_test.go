package storage

import (
	"errors"
	"testing"
	"time"
)

func TestSchedules(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	for _, c := range []string{"a", "b", "c", "d"} {
		mustRun(t, s, c, StateScheduled)
	}
	sunday := clock.Now().Add(72 * time.Hour)
	sched := func(run RunID, opens time.Time) Schedule {
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
	var order []RunID
	for _, sc := range list {
		order = append(order, sc.Run)
	}
	assertEqual(t, "ListSchedules order", order, []RunID{3, 2, 4, 1})

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
