package storage

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
)

// TestPruneRecords: the records of runs that ended before the limit go, with their steps,
// approvals and audit events; the run still going and newer ones stay; the audit log says
// what was pruned and still verifies; a sweep with nothing to prune writes nothing.
func TestPruneRecords(t *testing.T) {
	clock := newTestClock()
	s := newStore(t, clock)
	ctx := t.Context()
	mk := func(cluster string, st domain.RunState) domain.Run {
		r, err := s.CreateRun(ctx, domain.Run{Cluster: cluster, To: "3.5.0", State: domain.StatePreparing}, AuditEvent{Actor: "U1", Action: "start"})
		mustDo(t, err)
		mustDo(t, s.PutStep(ctx, r.ID, domain.StepRecord{Index: 1, Name: "preflight", Status: domain.StepSucceeded}, AuditEvent{Actor: "drawbridge", Action: "step_succeeded"}))
		mustDo(t, s.AddApproval(ctx, r.ID, domain.Approval{UserID: "U2", Decision: domain.DecisionApprove, At: clock.Now()}, AuditEvent{Actor: "U2", Action: "approve"}))
		if st != domain.StatePreparing {
			r, err = s.UpdateRun(ctx, r.ID, func(r *domain.Run) error { r.State = st; return nil }, AuditEvent{Actor: "drawbridge", Action: "state_" + string(st)})
			mustDo(t, err)
		}
		return r
	}
	old1, old2 := mk("prod", domain.StateSucceeded), mk("staging", domain.StateAborted)
	clock.Advance(48 * time.Hour)
	going := mk("prod", domain.StatePreparing)
	recent := mk("staging", domain.StateSucceeded)

	p, err := s.PruneRecords(ctx, clock.Now().Add(-24*time.Hour))
	mustDo(t, err)
	if len(p.Runs["prod"]) != 1 || p.Runs["prod"][0] != old1.ID || len(p.Runs["staging"]) != 1 || p.Runs["staging"][0] != old2.ID || p.Events != 8 {
		t.Fatalf("pruned %+v", p)
	}
	for _, id := range []domain.RunID{old1.ID, old2.ID} {
		if _, err := s.GetRun(ctx, id); err == nil {
			t.Errorf("run %s survived", id)
		}
		if steps, _ := s.Steps(ctx, id); len(steps) != 0 {
			t.Errorf("run %s's steps survived", id)
		}
		if aps, _ := s.Approvals(ctx, id); len(aps) != 0 {
			t.Errorf("run %s's approvals survived", id)
		}
		if evs, _ := s.Audit(ctx, AuditFilter{Run: id}); len(evs) != 0 {
			t.Errorf("run %s's events survived", id)
		}
	}
	for _, id := range []domain.RunID{going.ID, recent.ID} {
		if evs, _ := s.Audit(ctx, AuditFilter{Run: id}); len(evs) < 3 {
			t.Errorf("run %s lost its events", id)
		}
	}
	all, _ := s.Audit(ctx, AuditFilter{})
	last := all[len(all)-1]
	if last.Action != "records_pruned" || !strings.Contains(last.Detail, "prod: runs 1 (audit head before ") || !strings.Contains(last.Detail, "staging: runs 2") {
		t.Errorf("summary event %+v", last)
	}
	v, err := s.VerifyAudit(ctx)
	if err != nil || len(v.Problems) > 0 {
		t.Fatalf("verify after pruning: %v %v", v.Problems, err)
	}
	before, _ := os.ReadFile(s.Path())
	if p, err := s.PruneRecords(ctx, clock.Now().Add(-24*time.Hour)); err != nil || len(p.Runs) != 0 {
		t.Fatalf("second prune: %+v %v", p, err)
	}
	if after, _ := os.ReadFile(s.Path()); string(after) != string(before) {
		t.Error("a prune with nothing to prune wrote the state file")
	}
}
