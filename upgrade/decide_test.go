package upgrade

import (
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/storage"
)

// TestDecide: the engine's next action from a stored run, table by table.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := &config.Config{
		Access:   config.Access{RequiredApprovals: 2, ApprovalTimeout: config.Duration(time.Hour)},
		Clusters: []config.Cluster{{Name: "plain"}, {Name: "auto", AutoDecommission: true}, {Name: "windowed", Windows: []string{"never"}}},
	}
	e := &Engine{opts: Options{Config: cfg}}

	done := func(ids ...StepID) map[StepID]storage.StepRecord {
		m := map[StepID]storage.StepRecord{}
		for _, id := range ids {
			m[id] = storage.StepRecord{Index: int(id), Name: defOf(id).name, Status: storage.StepSucceeded}
		}
		return m
	}
	with := func(m map[StepID]storage.StepRecord, id StepID, st storage.StepStatus, started time.Time) map[StepID]storage.StepRecord {
		m[id] = storage.StepRecord{Index: int(id), Name: defOf(id).name, Status: st, StartedAt: started}
		return m
	}
	prep := []StepID{StepPreflight, StepFreeze, StepBackup, StepEvaluate, StepStage}
	through := func(last StepID) []StepID {
		var out []StepID
		for _, d := range forwardSteps {
			out = append(out, d.id)
			if d.id == last {
				break
			}
		}
		return out
	}
	approve := func(users ...string) []storage.Approval {
		var out []storage.Approval
		for _, u := range users {
			out = append(out, storage.Approval{UserID: u, Decision: storage.DecisionApprove})
		}
		return out
	}
	run := func(cluster string, st storage.RunState, details map[string]string) storage.Run {
		return storage.Run{ID: 1, Cluster: cluster, State: st, From: "3.4.2", To: "3.5.0", Details: details}
	}
	gateOpen := now.Add(-10 * time.Minute)

	cases := []struct {
		name       string
		v          view
		recovering bool
		want       action
	}{
		{"ended run", view{run: run("plain", storage.StateSucceeded, nil)}, false, action{kind: actDone}},
		{"scheduled run is the scheduler's", view{run: run("plain", storage.StateScheduled, nil)}, false, action{kind: actDone}},
		{"new run starts with preflight", view{run: run("plain", storage.StatePreparing, nil), steps: done()}, false, action{kind: actRun, step: StepPreflight}},
		{"abort asked", view{run: run("plain", storage.StatePreparing, map[string]string{detailPendingOp: "abort", detailOpActor: "U1"}), steps: done()}, false,
			action{kind: actTransition, state: storage.StateAborted, reason: "aborted by U1"}},
		{"rollback asked", view{run: run("plain", storage.StateWatching, map[string]string{detailPendingOp: "rollback", detailOpReason: "breach"}), steps: done(through(StepStart)...)}, false,
			action{kind: actTransition, state: storage.StateRollingBack, reason: "breach"}},
		{"interrupted step after a restart", view{run: run("plain", storage.StatePreparing, nil), steps: with(done(StepPreflight), StepFreeze, storage.StepRunning, now)}, true,
			action{kind: actRecover, step: StepFreeze}},
		{"failed step whose consequence was not stored", view{run: run("plain", storage.StateMigrating, nil), steps: with(done(through(StepStop)...), StepMigrationsUp, storage.StepFailed, now)}, false,
			action{kind: actFailure, step: StepMigrationsUp}},
		{"needs attention waits for a person", view{run: run("plain", storage.StateNeedsAttention, nil)}, false, action{kind: actWait}},
		{"resume asked", view{run: run("plain", storage.StateNeedsAttention, map[string]string{detailPendingOp: "resume"})}, false, action{kind: actResume}},
		{"gate opens after stage", view{run: run("plain", storage.StatePreparing, nil), steps: done(prep...)}, false, action{kind: actRun, step: StepApproval}},
		{"gate waits for approvals until the timeout", view{run: run("plain", storage.StateAwaitingApproval, nil), steps: with(done(prep...), StepApproval, storage.StepRunning, gateOpen), approvals: approve("U1")}, false,
			action{kind: actWait, until: gateOpen.Add(time.Hour)}},
		{"gate crossed with enough approvals", view{run: run("plain", storage.StateAwaitingApproval, nil), steps: with(done(prep...), StepApproval, storage.StepRunning, gateOpen), approvals: approve("U1", "U2")}, false,
			action{kind: actRun, step: StepApproval}},
		{"a rejection ends it", view{run: run("plain", storage.StateAwaitingApproval, nil), steps: with(done(prep...), StepApproval, storage.StepRunning, gateOpen),
			approvals: append(approve("U1"), storage.Approval{UserID: "U2", Decision: storage.DecisionReject, Reason: "not today"})}, false,
			action{kind: actTransition, state: storage.StateRejected, reason: "rejected by U2: not today"}},
		{"approval timeout expires it", view{run: run("plain", storage.StateAwaitingApproval, nil), steps: with(done(prep...), StepApproval, storage.StepRunning, now.Add(-2*time.Hour))}, false,
			action{kind: actTransition, state: storage.StateExpired, reason: "no approval within 1h"}},
		{"approved outside every window waits", view{run: run("windowed", storage.StateAwaitingApproval, nil), steps: with(done(prep...), StepApproval, storage.StepRunning, gateOpen), approvals: approve("U1", "U2")}, false,
			action{kind: actWait, until: gateOpen.Add(time.Hour)}}, // the approval deadline comes before any opening
		{"clean watch waits for decommission", view{run: run("plain", storage.StateWatching, nil), steps: done(through(StepWatch)...)}, false,
			action{kind: actTransition, state: storage.StateAwaitingDecommission, reason: "the watch ended clean"}},
		{"decommission waits for the button", view{run: run("plain", storage.StateAwaitingDecommission, nil), steps: done(through(StepWatch)...)}, false, action{kind: actWait}},
		{"decommission asked", view{run: run("plain", storage.StateAwaitingDecommission, map[string]string{detailPendingOp: "decommission"}), steps: done(through(StepWatch)...)}, false,
			action{kind: actRun, step: StepDecommission}},
		{"automatic decommission", view{run: run("auto", storage.StateAwaitingDecommission, nil), steps: done(through(StepWatch)...)}, false, action{kind: actRun, step: StepDecommission}},
		{"every step done", view{run: run("plain", storage.StateAwaitingDecommission, nil), steps: done(through(StepDecommission)...)}, false,
			action{kind: actTransition, state: storage.StateSucceeded, reason: "upgraded to 3.5.0"}},
		{"rollback goes step by step", view{run: run("plain", storage.StateRollingBack, nil), steps: done(StepRollbackStop)}, false, action{kind: actRun, step: StepRollbackRestore}},
		{"rollback done", view{run: run("plain", storage.StateRollingBack, nil), steps: done(StepRollbackStop, StepRollbackRestore, StepRollbackStart)}, false,
			action{kind: actTransition, state: storage.StateRolledBack, reason: "rolled back: every node answers 3.4.2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v.steps == nil {
				tc.v.steps = map[StepID]storage.StepRecord{}
			}
			got := e.decide(tc.v, now, tc.recovering)
			if got != tc.want {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}
