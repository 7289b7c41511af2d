package storage

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPutStepAndSteps(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	run := mustRun(t, s, "prod", StatePreparing)
	other := mustRun(t, s, "staging", StatePreparing)

	started := clock.Now()
	step := func(i int, status StepStatus, attempt int) StepRecord {
		return StepRecord{Index: i, Name: "step", Status: status, Attempt: attempt, StartedAt: started}
	}
	// Inserted out of order; 10 sorts after 2 because keys are big-endian.
	for _, rec := range []StepRecord{step(2, StepRunning, 1), step(0, StepSucceeded, 1), step(10, StepPending, 0), step(1, StepSucceeded, 1)} {
		mustDo(t, s.PutStep(ctx, run.ID, rec))
	}
	mustDo(t, s.PutStep(ctx, other.ID, step(0, StepRunning, 1)))
	// Upsert: step 2 failed and is retried.
	retried := step(2, StepFailed, 2)
	retried.Error, retried.OutputTail = "exit status 1", "migrating…\nerror"
	retried.EndedAt = clock.Advance(time.Minute)
	mustDo(t, s.PutStep(ctx, run.ID, retried))

	got, err := s.Steps(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "steps", got, []StepRecord{step(0, StepSucceeded, 1), step(1, StepSucceeded, 1), retried, step(10, StepPending, 0)})
	got, err = s.Steps(ctx, other.ID)
	mustDo(t, err)
	assertEqual(t, "other run's steps", got, []StepRecord{step(0, StepRunning, 1)})
	got, err = s.Steps(ctx, 99)
	if err != nil || len(got) != 0 {
		t.Errorf("Steps(99) = %v, %v; want none", got, err)
	}
}

func TestPutStepRefusals(t *testing.T) {
	s := newStore(t, nil)
	run := mustRun(t, s, "prod", StatePreparing)
	tests := []struct {
		name string
		run  RunID
		rec  StepRecord
		is   error
		want string
	}{
		{name: "missing run", run: 99, rec: StepRecord{Index: 1, Status: StepPending}, is: ErrNotFound, want: "put step 1 of run 99: not found"},
		{name: "run 0", run: 0, rec: StepRecord{Status: StepPending}, is: ErrNotFound, want: "not found"},
		{name: "negative index", run: run.ID, rec: StepRecord{Index: -1, Status: StepPending}, want: "index -1 is negative"},
		{name: "bad status", run: run.ID, rec: StepRecord{Index: 1, Status: "done"}, want: `status "done" is not a step status`},
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
	run := mustRun(t, s, "prod", StateAwaitingApproval)
	other := mustRun(t, s, "staging", StateAwaitingApproval)

	a1 := Approval{UserID: "U2", Decision: DecisionApprove}
	mustDo(t, s.AddApproval(ctx, run.ID, a1))
	a1.At = clock.Now()
	clock.Advance(time.Minute)
	a2 := Approval{UserID: "U3", Decision: DecisionReject, Reason: "not tonight", At: clock.Now().Add(-time.Second)}
	mustDo(t, s.AddApproval(ctx, run.ID, a2))
	mustDo(t, s.AddApproval(ctx, other.ID, Approval{UserID: "U2", Decision: DecisionReject})) // same user, other run

	// A second decision from U2 on the same run, even a different one, is refused.
	err := s.AddApproval(ctx, run.ID, Approval{UserID: "U2", Decision: DecisionReject})
	wantErrIs(t, err, ErrDuplicate)
	if !strings.Contains(err.Error(), "already decided approve") {
		t.Errorf("error %q does not say what the user decided", err)
	}

	got, err := s.Approvals(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "approvals in arrival order", got, []Approval{a1, a2})
}

func TestAddApprovalRefusals(t *testing.T) {
	s := newStore(t, nil)
	run := mustRun(t, s, "prod", StateAwaitingApproval)
	tests := []struct {
		name string
		run  RunID
		a    Approval
		is   error
		want string
	}{
		{name: "missing run", run: 42, a: Approval{UserID: "U1", Decision: DecisionApprove}, is: ErrNotFound, want: "add approve decision by U1 on run 42: not found"},
		{name: "no user", run: run.ID, a: Approval{Decision: DecisionApprove}, want: "user ID is empty"},
		{name: "bad decision", run: run.ID, a: Approval{UserID: "U1", Decision: "maybe"}, want: `decision "maybe" is not approve or reject`},
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
