package storage

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

func TestCreateRun(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	in := domain.Run{
		Cluster: "prod", From: "3.4.2", To: "3.9.1", State: domain.StateScheduled, RequestedBy: "scheduler",
		Window: "sunday", ScheduledFor: clock.Now().Add(48 * time.Hour), Facts: domain.Facts{Warnings: []string{"w"}, Backup: &domain.Backup{Path: "/b/1.dump", Size: 9}},
		Revision: 77, CreatedAt: time.Unix(1, 0), // the store's to set
	}
	first, err := s.CreateRun(ctx, in)
	mustDo(t, err)
	if first.ID != 1 || first.Revision != 1 || !first.CreatedAt.Equal(clock.Now()) || first.UpdatedAt != first.CreatedAt {
		t.Errorf("CreateRun = ID %d rev %d created %v updated %v; want 1, 1, %v twice", first.ID, first.Revision, first.CreatedAt, first.UpdatedAt, clock.Now())
	}
	got, err := s.GetRun(ctx, first.ID)
	mustDo(t, err)
	assertEqual(t, "GetRun", got, first)

	second := mustRun(t, s, "staging", domain.StateSucceeded)
	if second.ID != 2 {
		t.Errorf("second run ID = %d, want 2", second.ID)
	}
	if _, err := s.GetRun(ctx, 3); !errors.Is(err, ErrNotFound) || err.Error() != "get run 3: not found" {
		t.Errorf("GetRun(3) = %v, want \"get run 3: not found\"", err)
	}
}

func TestCreateRunRefusesBadRuns(t *testing.T) {
	tests := []struct {
		name string
		run  domain.Run
		want string
	}{
		{"ID set", domain.Run{ID: 5, Cluster: "prod", State: domain.StateScheduled}, "the store assigns IDs"},
		{"no cluster", domain.Run{State: domain.StateScheduled}, "cluster is empty"},
		{"no state", domain.Run{Cluster: "prod"}, `state "" is not a run state`},
		{"unknown state", domain.Run{Cluster: "prod", State: "done"}, `state "done" is not a run state`},
	}
	s := newStore(t, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.CreateRun(t.Context(), tt.run)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CreateRun = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if runs, _ := s.ListRuns(t.Context(), RunFilter{}); len(runs) != 0 {
		t.Errorf("refused runs were stored: %+v", runs)
	}
}

func TestClusterBusy(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	first := mustRun(t, s, "prod", domain.StateAwaitingApproval)

	for _, state := range []domain.RunState{domain.StateScheduled, domain.StateSucceeded} {
		_, err := s.CreateRun(ctx, domain.Run{Cluster: "prod", State: state})
		wantErrIs(t, err, ErrClusterBusy)
		if !strings.Contains(err.Error(), "run 1 is awaiting_approval") {
			t.Errorf("error %q does not name run 1 and its state", err)
		}
	}
	mustRun(t, s, "staging", domain.StateScheduled) // other clusters are free

	if active, ok, err := s.ActiveRun(ctx, "prod"); err != nil || !ok || active.ID != first.ID {
		t.Fatalf("ActiveRun(prod) = %d, %v, %v; want run 1", active.ID, ok, err)
	}
	_, err := s.UpdateRun(ctx, first.ID, func(r *domain.Run) error {
		r.State = domain.StateRejected
		r.Reason = "rejected by U2"
		return nil
	})
	mustDo(t, err)
	if _, ok, err := s.ActiveRun(ctx, "prod"); err != nil || ok {
		t.Fatalf("ActiveRun(prod) after rejection: ok %v, %v; want none", ok, err)
	}
	next := mustRun(t, s, "prod", domain.StateScheduled)

	// A terminal run may not come back while another run holds the cluster.
	_, err = s.UpdateRun(ctx, first.ID, func(r *domain.Run) error { r.State = domain.StateNeedsAttention; return nil })
	wantErrIs(t, err, ErrClusterBusy)
	if !strings.Contains(err.Error(), fmt.Sprintf("run %s is scheduled", next.ID)) {
		t.Errorf("error %q does not name run %s", err, next.ID)
	}
}

func TestCreateRunConcurrentlyOnOneCluster(t *testing.T) {
	s := newStore(t, nil)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.CreateRun(t.Context(), domain.Run{Cluster: "prod", State: domain.StatePreparing})
		})
	}
	wg.Wait()
	created := 0
	for _, err := range errs {
		switch {
		case err == nil:
			created++
		case !errors.Is(err, ErrClusterBusy):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if created != 1 {
		t.Errorf("%d runs created on one cluster, want 1", created)
	}
}

func TestUpdateRun(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	run := mustRun(t, s, "prod", domain.StateScheduled)

	clock.Advance(time.Minute)
	got, err := s.UpdateRun(ctx, run.ID, func(r *domain.Run) error {
		r.State = domain.StatePreparing
		r.CurrentStep = 2
		r.Facts.Freeze = &domain.Fingerprint{Hash: "abc", Tables: map[string]domain.TableSum{"services": {Rows: 2, Hash: "x"}}}
		r.Revision = 100              // ignored
		r.CreatedAt = time.Unix(0, 0) // ignored
		return nil
	})
	mustDo(t, err)
	want := run
	want.State, want.CurrentStep = domain.StatePreparing, 2
	want.Facts.Freeze = &domain.Fingerprint{Hash: "abc", Tables: map[string]domain.TableSum{"services": {Rows: 2, Hash: "x"}}}
	want.Revision, want.UpdatedAt = 2, clock.Now()
	assertEqual(t, "UpdateRun result", got, want)
	stored, err := s.GetRun(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "stored run", stored, want)
}

func TestUpdateRunRefusalsWriteNothing(t *testing.T) {
	errNotAwaiting := errors.New("run is not awaiting approval")
	tests := []struct {
		name   string
		id     domain.RunID
		fn     func(*domain.Run) error
		is     error
		substr string
	}{
		{
			name: "fn refuses after changing things",
			fn: func(r *domain.Run) error {
				r.State = domain.StateStopping
				r.Facts.Warnings = append(r.Facts.Warnings, "touched")
				return errNotAwaiting
			},
			is: errNotAwaiting,
		},
		{name: "ID changed", fn: func(r *domain.Run) error { r.ID++; return nil }, substr: "run ID may not change"},
		{name: "cluster changed", fn: func(r *domain.Run) error { r.Cluster = "staging"; return nil }, substr: `cluster may not change (from "prod" to "staging")`},
		{name: "invalid state", fn: func(r *domain.Run) error { r.State = "paused"; return nil }, substr: `state "paused" is not a run state`},
		{name: "nil fn", substr: "nil update function"},
		{name: "missing run", id: 99, fn: func(*domain.Run) error { return nil }, is: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t, nil)
			ctx := t.Context()
			run, err := s.CreateRun(ctx, domain.Run{Cluster: "prod", State: domain.StateAwaitingApproval, Facts: domain.Facts{Warnings: []string{"a"}}})
			mustDo(t, err)
			id := cmpOr(tt.id, run.ID)
			_, err = s.UpdateRun(ctx, id, tt.fn)
			if err == nil {
				t.Fatal("UpdateRun succeeded, want an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.substr) || !strings.HasPrefix(err.Error(), "update run "+id.String()+": ") {
				t.Errorf("error %q: want prefix %q and %q in it", err, "update run "+id.String(), tt.substr)
			}
			stored, err := s.GetRun(ctx, run.ID)
			mustDo(t, err)
			assertEqual(t, "run after refused update", stored, run)
		})
	}
}

func cmpOr(a, b domain.RunID) domain.RunID {
	if a != 0 {
		return a
	}
	return b
}

func TestListRuns(t *testing.T) {
	s := newStore(t, nil)
	// IDs 1..8: prod gets odd IDs, staging even; 7 and 8 stay active.
	for i := 1; i <= 8; i++ {
		cluster := map[bool]string{true: "prod", false: "staging"}[i%2 == 1]
		state := domain.StateSucceeded
		if i == 4 {
			state = domain.StateRolledBack
		}
		if i >= 7 {
			state = domain.StateWatching
		}
		mustRun(t, s, cluster, state)
	}
	tests := []struct {
		name    string
		f       RunFilter
		want    []domain.RunID
		wantErr string
	}{
		{name: "all, newest first", want: []domain.RunID{8, 7, 6, 5, 4, 3, 2, 1}},
		{name: "limit", f: RunFilter{Limit: 3}, want: []domain.RunID{8, 7, 6}},
		{name: "before", f: RunFilter{Before: 5}, want: []domain.RunID{4, 3, 2, 1}},
		{name: "before and limit", f: RunFilter{Before: 5, Limit: 2}, want: []domain.RunID{4, 3}},
		{name: "before beyond newest", f: RunFilter{Before: 100}, want: []domain.RunID{8, 7, 6, 5, 4, 3, 2, 1}},
		{name: "before the first", f: RunFilter{Before: 1}, want: nil},
		{name: "cluster", f: RunFilter{Cluster: "staging"}, want: []domain.RunID{8, 6, 4, 2}},
		{name: "cluster and limit", f: RunFilter{Cluster: "prod", Limit: 2}, want: []domain.RunID{7, 5}},
		{name: "states", f: RunFilter{States: []domain.RunState{domain.StateWatching, domain.StateRolledBack}}, want: []domain.RunID{8, 7, 4}},
		{name: "cluster, states, before", f: RunFilter{Cluster: "staging", States: []domain.RunState{domain.StateSucceeded, domain.StateRolledBack}, Before: 6}, want: []domain.RunID{4, 2}},
		{name: "unknown cluster", f: RunFilter{Cluster: "dev"}, want: nil},
		{name: "negative limit", f: RunFilter{Limit: -1}, wantErr: "limit -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.ListRuns(t.Context(), tt.f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ListRuns = %v, want error %q", err, tt.wantErr)
				}
				return
			}
			mustDo(t, err)
			assertEqual(t, "IDs", runIDs(runs), tt.want)
		})
	}
}

func TestListRunsPaging(t *testing.T) {
	s := newStore(t, nil)
	for i := range 120 {
		mustRun(t, s, fmt.Sprintf("c%d", i%7), domain.StateSucceeded)
	}
	var all []domain.RunID
	var before domain.RunID
	for pages := 0; ; pages++ {
		runs, err := s.ListRuns(t.Context(), RunFilter{Before: before})
		mustDo(t, err)
		if len(runs) == 0 {
			if pages != 3 {
				t.Errorf("%d pages of up to 50, want 3", pages)
			}
			break
		}
		all = append(all, runIDs(runs)...)
		before = runs[len(runs)-1].ID
	}
	if len(all) != 120 || !slices.IsSortedFunc(all, func(a, b domain.RunID) int { return int(b) - int(a) }) || all[0] != 120 {
		t.Errorf("paged through %d runs, want 120 in descending order: %v", len(all), all)
	}
}

func runIDs(runs []domain.Run) []domain.RunID {
	var ids []domain.RunID
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestUpdateRunSteps: the run, its step records and the audit events are stored together,
// or nothing is.
func TestUpdateRunSteps(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	run := mustRun(t, s, "prod", domain.StatePreparing)
	stop := domain.StepRecord{Index: int(domain.StepStop), Name: "stop", Status: domain.StepRunning, Attempt: 1}
	got, err := s.UpdateRunSteps(ctx, run.ID, func(r *domain.Run) error {
		r.State = domain.StateStopping
		return nil
	}, []domain.StepRecord{stop}, AuditEvent{Actor: "drawbridge", Action: "step_started"})
	mustDo(t, err)
	if got.State != domain.StateStopping || got.Revision != run.Revision+1 {
		t.Errorf("run after UpdateRunSteps: %+v", got)
	}
	steps, err := s.Steps(ctx, run.ID)
	mustDo(t, err)
	if len(steps) != 1 || steps[0].Status != domain.StepRunning {
		t.Errorf("steps = %+v, want stop running", steps)
	}

	for name, change := range map[string]func() error{
		"the run's change refused": func() error {
			_, err := s.UpdateRunSteps(ctx, run.ID, func(*domain.Run) error { return errors.New("not now") },
				[]domain.StepRecord{{Index: int(domain.StepStop), Name: "stop", Status: domain.StepFailed}}, AuditEvent{Actor: "x", Action: "no"})
			return err
		},
		"a bad step record": func() error {
			_, err := s.UpdateRunSteps(ctx, run.ID, func(r *domain.Run) error { r.State = domain.StateNeedsAttention; return nil },
				[]domain.StepRecord{{Index: int(domain.StepStop), Name: "stop", Status: "halfway"}}, AuditEvent{Actor: "x", Action: "no"})
			return err
		},
	} {
		if err := change(); err == nil {
			t.Fatalf("%s: UpdateRunSteps succeeded", name)
		}
		after, err := s.GetRun(ctx, run.ID)
		mustDo(t, err)
		steps, err := s.Steps(ctx, run.ID)
		mustDo(t, err)
		events, err := s.Audit(ctx, AuditFilter{Run: run.ID})
		mustDo(t, err)
		if after.State != domain.StateStopping || after.Revision != got.Revision || steps[0].Status != domain.StepRunning || len(events) != 1 {
			t.Errorf("%s: something was written: run %s rev %d, step %s, %d audit events", name, after.State, after.Revision, steps[0].Status, len(events))
		}
	}
}
