package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

func TestPutStepAndSteps(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	run := mustRun(t, s, "prod", domain.StatePreparing)
	other := mustRun(t, s, "staging", domain.StatePreparing)

	started := clock.Now()
	step := func(i int, status domain.StepStatus, attempt int) domain.StepRecord {
		return domain.StepRecord{Index: i, Name: "step", Status: status, Attempt: attempt, StartedAt: started}
	}
	// Inserted out of order; 10 sorts after 2 because keys are big-endian.
	for _, rec := range []domain.StepRecord{step(2, domain.StepRunning, 1), step(0, domain.StepSucceeded, 1), step(10, domain.StepPending, 0), step(1, domain.StepSucceeded, 1)} {
		mustDo(t, s.PutStep(ctx, run.ID, rec))
	}
	mustDo(t, s.PutStep(ctx, other.ID, step(0, domain.StepRunning, 1)))
	// Upsert: step 2 failed and is retried.
	retried := step(2, domain.StepFailed, 2)
	retried.Error, retried.OutputTail = "exit status 1", "migrating…\nerror"
	retried.EndedAt = clock.Advance(time.Minute)
	mustDo(t, s.PutStep(ctx, run.ID, retried))

	got, err := s.Steps(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "steps", got, []domain.StepRecord{step(0, domain.StepSucceeded, 1), step(1, domain.StepSucceeded, 1), retried, step(10, domain.StepPending, 0)})
	got, err = s.Steps(ctx, other.ID)
	mustDo(t, err)
	assertEqual(t, "other run's steps", got, []domain.StepRecord{step(0, domain.StepRunning, 1)})
	got, err = s.Steps(ctx, 99)
	if err != nil || len(got) != 0 {
		t.Errorf("Steps(99) = %v, %v; want none", got, err)
	}
}

func TestPutStepRefusals(t *testing.T) {
	s := newStore(t, nil)
	run := mustRun(t, s, "prod", domain.StatePreparing)
	tests := []struct {
		name string
		run  domain.RunID
		rec  domain.StepRecord
		is   error
		want string
	}{
		{name: "missing run", run: 99, rec: domain.StepRecord{Index: 1, Status: domain.StepPending}, is: ErrNotFound, want: "put step 1 of run 99: not found"},
		{name: "run 0", run: 0, rec: domain.StepRecord{Status: domain.StepPending}, is: ErrNotFound, want: "not found"},
		{name: "negative index", run: run.ID, rec: domain.StepRecord{Index: -1, Status: domain.StepPending}, want: "index -1 is negative"},
		{name: "bad status", run: run.ID, rec: domain.StepRecord{Index: 1, Status: "done"}, want: `status "done" is not a step status`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.PutStep(t.Context(), tt.run, tt.rec)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("PutStep = %v, want an error containing %q (is %v)", err, tt.want, tt.is)
			}
		})
	}
	if steps, _ := s.Steps(t.Context(), run.ID); len(steps) != 0 {
		t.Errorf("refused steps were stored: %+v", steps)
	}
}

func TestApprovals(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	run := mustRun(t, s, "prod", domain.StateAwaitingApproval)
	other := mustRun(t, s, "staging", domain.StateAwaitingApproval)

	a1 := domain.Approval{UserID: "U2", Decision: domain.DecisionApprove}
	mustDo(t, s.AddApproval(ctx, run.ID, a1))
	a1.At = clock.Now()
	clock.Advance(time.Minute)
	a2 := domain.Approval{UserID: "U3", Decision: domain.DecisionReject, Reason: "not tonight", At: clock.Now().Add(-time.Second)}
	mustDo(t, s.AddApproval(ctx, run.ID, a2))
	mustDo(t, s.AddApproval(ctx, other.ID, domain.Approval{UserID: "U2", Decision: domain.DecisionReject})) // same user, other run

	// A second decision from U2 on the same run, even a different one, is refused.
	err := s.AddApproval(ctx, run.ID, domain.Approval{UserID: "U2", Decision: domain.DecisionReject})
	wantErrIs(t, err, ErrDuplicate)
	if !strings.Contains(err.Error(), "already decided approve") {
		t.Errorf("error %q does not say what the user decided", err)
	}

	got, err := s.Approvals(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "approvals in arrival order", got, []domain.Approval{a1, a2})
}

func TestAddApprovalRefusals(t *testing.T) {
	s := newStore(t, nil)
	run := mustRun(t, s, "prod", domain.StateAwaitingApproval)
	tests := []struct {
		name string
		run  domain.RunID
		a    domain.Approval
		is   error
		want string
	}{
		{name: "missing run", run: 42, a: domain.Approval{UserID: "U1", Decision: domain.DecisionApprove}, is: ErrNotFound, want: "add approve decision by U1 on run 42: not found"},
		{name: "no user", run: run.ID, a: domain.Approval{Decision: domain.DecisionApprove}, want: "user ID is empty"},
		{name: "bad decision", run: run.ID, a: domain.Approval{UserID: "U1", Decision: "maybe"}, want: `decision "maybe" is not approve or reject`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.AddApproval(t.Context(), tt.run, tt.a)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Errorf("AddApproval = %v, want an error containing %q (is %v)", err, tt.want, tt.is)
			}
		})
	}
	if got, _ := s.Approvals(t.Context(), run.ID); len(got) != 0 {
		t.Errorf("refused approvals were stored: %+v", got)
	}
}
