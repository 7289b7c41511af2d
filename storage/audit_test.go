package storage

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

func TestAudit(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	mustRun(t, s, "prod", domain.StateScheduled)
	mustRun(t, s, "staging", domain.StateScheduled)

	explicit := clock.Now().Add(-time.Hour)
	inputs := []AuditEvent{
		{Run: 1, Actor: "U1", Action: "start", Detail: "prod 3.4.2 → 3.9.1"},
		{Run: 2, Actor: "U1", Action: "start"},
		{Actor: "scheduler", Action: "remind"},
		{Run: 1, Actor: "U2", Action: "approve", At: explicit},
		{Run: 2, Actor: "U3", Action: "reject"},
		{Run: 1, Actor: "U2", Action: "rollback"},
	}
	var all []AuditEvent
	for i, e := range inputs {
		got, err := s.AppendAudit(ctx, e)
		mustDo(t, err)
		want := e
		want.Seq = uint64(i + 1)
		if want.At.IsZero() {
			want.At = clock.Now()
		}
		want.Cluster = map[domain.RunID]string{1: "prod", 2: "staging"}[e.Run]
		if got.Hash == "" || got.Hash != got.ComputeHash() {
			t.Errorf("event %d: hash %q does not cover it", got.Seq, got.Hash)
		}
		want.Prev, want.Hash = got.Prev, got.Hash // checked by TestAuditChain
		assertEqual(t, "AppendAudit result", got, want)
		all = append(all, want)
		clock.Advance(time.Second)
	}
	tests := []struct {
		name string
		f    AuditFilter
		want []AuditEvent
	}{
		{name: "all, oldest first", want: all},
		{name: "after seq", f: AuditFilter{AfterSeq: 4}, want: all[4:]},
		{name: "limit", f: AuditFilter{Limit: 2}, want: all[:2]},
		{name: "after seq and limit", f: AuditFilter{AfterSeq: 1, Limit: 3}, want: all[1:4]},
		{name: "after the last", f: AuditFilter{AfterSeq: 6}, want: nil},
		{name: "after max uint64", f: AuditFilter{AfterSeq: 1<<64 - 1}, want: nil},
		{name: "run", f: AuditFilter{Run: 1}, want: []AuditEvent{all[0], all[3], all[5]}},
		{name: "other run", f: AuditFilter{Run: 2}, want: []AuditEvent{all[1], all[4]}},
		{name: "run after seq", f: AuditFilter{Run: 1, AfterSeq: 1}, want: []AuditEvent{all[3], all[5]}},
		{name: "run with limit", f: AuditFilter{Run: 1, Limit: 2}, want: []AuditEvent{all[0], all[3]}},
		{name: "run without events", f: AuditFilter{Run: 3}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Audit(ctx, tt.f)
			mustDo(t, err)
			assertEqual(t, "events", got, tt.want)
		})
	}
}

func TestAuditRefusals(t *testing.T) {
	s := newStore(t, nil)
	if _, err := s.AppendAudit(t.Context(), AuditEvent{Actor: "U1"}); err == nil || !strings.Contains(err.Error(), "action is empty") {
		t.Errorf("AppendAudit without action = %v", err)
	}
	if _, err := s.Audit(t.Context(), AuditFilter{Limit: -1}); err == nil || !strings.Contains(err.Error(), "limit -1 is negative") {
		t.Errorf("Audit with negative limit = %v", err)
	}
}

// TestChangesCarryTheirAuditEvents: a change and its audit events are stored in one
// transaction, so a change refused or invalid leaves no event and an invalid event
// leaves no change.
func TestChangesCarryTheirAuditEvents(t *testing.T) {
	s := newStore(t, nil)
	ctx := t.Context()
	ev := func(action string) AuditEvent { return AuditEvent{Actor: "U9", Action: action, Run: 999} } // Run is overwritten

	run, err := s.CreateRun(ctx, domain.Run{Cluster: "prod", State: domain.StatePreparing}, ev("start"))
	mustDo(t, err)
	tests := []struct {
		name      string
		change    func(ev AuditEvent) error
		event     AuditEvent
		wantSaved bool
	}{
		{"update", func(e AuditEvent) error {
			_, err := s.UpdateRun(ctx, run.ID, func(r *domain.Run) error { r.Reason = "updated"; return nil }, e)
			return err
		}, ev("abort"), true},
		{"update refused", func(e AuditEvent) error {
			_, err := s.UpdateRun(ctx, run.ID, func(r *domain.Run) error { return errors.New("no") }, e)
			return err
		}, ev("refused"), false},
		{"update with an empty action", func(e AuditEvent) error {
			_, err := s.UpdateRun(ctx, run.ID, func(r *domain.Run) error { r.Reason = "must not stay"; return nil }, e)
			return err
		}, ev(""), false},
		{"step", func(e AuditEvent) error {
			return s.PutStep(ctx, run.ID, domain.StepRecord{Index: 1, Name: "preflight", Status: domain.StepRunning}, e)
		}, ev("step_started"), true},
		{"step of a missing run", func(e AuditEvent) error {
			return s.PutStep(ctx, 42, domain.StepRecord{Index: 1, Name: "preflight", Status: domain.StepRunning}, e)
		}, ev("step_lost"), false},
		{"approval", func(e AuditEvent) error {
			return s.AddApproval(ctx, run.ID, domain.Approval{UserID: "U2", Decision: domain.DecisionApprove}, e)
		}, ev("approve"), true},
		{"approval twice", func(e AuditEvent) error {
			return s.AddApproval(ctx, run.ID, domain.Approval{UserID: "U2", Decision: domain.DecisionApprove}, e)
		}, ev("approve_again"), false},
		{"approval with an empty action", func(e AuditEvent) error {
			return s.AddApproval(ctx, run.ID, domain.Approval{UserID: "U3", Decision: domain.DecisionApprove}, e)
		}, ev(""), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.change(tc.event)
			if tc.wantSaved != (err == nil) {
				t.Fatalf("change: %v, want saved=%v", err, tc.wantSaved)
			}
		})
	}
	events, err := s.Audit(ctx, AuditFilter{Run: run.ID})
	mustDo(t, err)
	var got []string
	for _, e := range events {
		got = append(got, e.Action)
	}
	assertEqual(t, "the run's audit log", strings.Join(got, " "), "start abort step_started approve")
	if n, _ := s.Audit(ctx, AuditFilter{Run: 999}); len(n) != 0 {
		t.Errorf("events filed under the run the caller named: %v", n)
	}
	after, err := s.GetRun(ctx, run.ID)
	mustDo(t, err)
	assertEqual(t, "reason after the changes", after.Reason, "updated")
	approvals, err := s.Approvals(ctx, run.ID)
	mustDo(t, err)
	if len(approvals) != 1 {
		t.Errorf("%d approvals, want 1 (U3's had an invalid event)", len(approvals))
	}
}
