package upgrade

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/drawbridge/drawbridge/config"
	"github.com/drawbridge/drawbridge/domain"
)

// TestDecide: the engine's next action from a stored run, table by table.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := &config.Config{
		Access:   config.Access{RequiredApprovals: 2, ApprovalTimeout: config.Duration(time.Hour)},
		Clusters: []config.Cluster{{Name: "plain"}, {Name: "auto", AutoDecommission: true}, {Name: "windowed", Windows: []string{"never"}}},
	}
	e := &Engine{opts: Options{Config: cfg}}

	done := func(ids ...domain.StepID) map[domain.StepID]domain.StepRecord {
		m := map[domain.StepID]domain.StepRecord{}
		for _, id := range ids {
			m[id] = domain.StepRecord{Index: int(id), Name: defOf(id).Name, Status: domain.StepSucceeded}
		}
		return m
	}
	with := func(m map[domain.StepID]domain.StepRecord, id domain.StepID, st domain.StepStatus, started time.Time) map[domain.StepID]domain.StepRecord {
		m[id] = domain.StepRecord{Index: int(id), Name: defOf(id).Name, Status: st, StartedAt: started}
		return m
	}
	prep := []domain.StepID{domain.StepPreflight, domain.StepFreeze, domain.StepBackup, domain.StepEvaluate, domain.StepStage, domain.StepRehearsal}
	through := func(last domain.StepID) []domain.StepID {
		var out []domain.StepID
		for _, d := range forwardSteps {
			out = append(out, d.ID)
			if d.ID == last {
				break
			}
		}
		return out
	}
	approve := func(users ...string) []domain.Approval {
		var out []domain.Approval
		for _, u := range users {
			out = append(out, domain.Approval{UserID: u, Decision: domain.DecisionApprove})
		}
		return out
	}
	run := func(cluster string, st domain.RunState, op *domain.Operation) domain.Run {
		return domain.Run{ID: 1, Cluster: cluster, State: st, From: "3.4.2", To: "3.5.0", Facts: domain.Facts{Pending: op}}
	}
	gateOpen := now.Add(-10 * time.Minute)

	cases := []struct {
		name       string
		v          view
		recovering bool
		want       action
	}{
		{"ended run", view{run: run("plain", domain.StateSucceeded, nil)}, false, action{kind: actDone}},
		{"scheduled run is the scheduler's", view{run: run("plain", domain.StateScheduled, nil)}, false, action{kind: actDone}},
		{"new run starts with preflight", view{run: run("plain", domain.StatePreparing, nil), steps: done()}, false, action{kind: actRun, step: domain.StepPreflight}},
		{"abort asked", view{run: run("plain", domain.StatePreparing, &domain.Operation{Kind: domain.OpAbort, Actor: "U1"}), steps: done()}, false,
			action{kind: actTransition, state: domain.StateAborted, reason: "aborted by U1"}},
		{"rollback asked", view{run: run("plain", domain.StateWatching, &domain.Operation{Kind: domain.OpRollback, Reason: "breach"}), steps: done(through(domain.StepStart)...)}, false,
			action{kind: actTransition, state: domain.StateRollingBack, reason: "breach"}},
		{"interrupted step after a restart", view{run: run("plain", domain.StatePreparing, nil), steps: with(done(domain.StepPreflight), domain.StepFreeze, domain.StepRunning, now)}, true,
			action{kind: actRecover, step: domain.StepFreeze}},
		{"failed step whose consequence was not stored", view{run: run("plain", domain.StateMigrating, nil), steps: with(done(through(domain.StepStop)...), domain.StepMigrationsUp, domain.StepFailed, now)}, false,
			action{kind: actFailure, step: domain.StepMigrationsUp}},
		{"needs attention waits for a person", view{run: run("plain", domain.StateNeedsAttention, nil)}, false, action{kind: actWait}},
		{"resume asked", view{run: run("plain", domain.StateNeedsAttention, &domain.Operation{Kind: domain.OpResume})}, false, action{kind: actResume}},
		{"rehearsal after stage", view{run: run("plain", domain.StatePreparing, nil), steps: done(prep[:5]...)}, false, action{kind: actRun, step: domain.StepRehearsal}},
		{"gate opens after the rehearsal", view{run: run("plain", domain.StatePreparing, nil), steps: done(prep...)}, false, action{kind: actRun, step: domain.StepApproval}},
		{"a step a run went past before it existed is not run", view{run: run("plain", domain.StateWatching, nil), steps: with(done(domain.StepPreflight, domain.StepFreeze, domain.StepBackup, domain.StepEvaluate, domain.StepStage,
			domain.StepApproval, domain.StepStop, domain.StepMigrationsUp, domain.StepMigrationsFinish, domain.StepStart), domain.StepWatch, domain.StepRunning, now)}, true,
			action{kind: actRecover, step: domain.StepWatch}},
		{"gate waits for approvals until the timeout", view{run: run("plain", domain.StateAwaitingApproval, nil), steps: with(done(prep...), domain.StepApproval, domain.StepRunning, gateOpen), approvals: approve("U1")}, false,
			action{kind: actWait, until: gateOpen.Add(time.Hour)}},
		{"gate crossed with enough approvals", view{run: run("plain", domain.StateAwaitingApproval, nil), steps: with(done(prep...), domain.StepApproval, domain.StepRunning, gateOpen), approvals: approve("U1", "U2")}, false,
			action{kind: actRun, step: domain.StepApproval}},
		{"a rejection ends it", view{run: run("plain", domain.StateAwaitingApproval, nil), steps: with(done(prep...), domain.StepApproval, domain.StepRunning, gateOpen),
			approvals: append(approve("U1"), domain.Approval{UserID: "U2", Decision: domain.DecisionReject, Reason: "not today"})}, false,
			action{kind: actTransition, state: domain.StateRejected, reason: "rejected by U2: not today"}},
		{"approval timeout expires it", view{run: run("plain", domain.StateAwaitingApproval, nil), steps: with(done(prep...), domain.StepApproval, domain.StepRunning, now.Add(-2*time.Hour))}, false,
			action{kind: actTransition, state: domain.StateExpired, reason: "no approval within 1h"}},
		{"approved outside every window waits", view{run: run("windowed", domain.StateAwaitingApproval, nil), steps: with(done(prep...), domain.StepApproval, domain.StepRunning, gateOpen), approvals: approve("U1", "U2")}, false,
			action{kind: actWait, until: gateOpen.Add(time.Hour)}}, // the approval deadline comes before any opening
		{"clean watch waits for decommission", view{run: run("plain", domain.StateWatching, nil), steps: done(through(domain.StepWatch)...)}, false,
			action{kind: actTransition, state: domain.StateAwaitingDecommission, reason: "the watch ended clean"}},
		{"decommission waits for the button", view{run: run("plain", domain.StateAwaitingDecommission, nil), steps: done(through(domain.StepWatch)...)}, false, action{kind: actWait}},
		{"decommission asked", view{run: run("plain", domain.StateAwaitingDecommission, &domain.Operation{Kind: domain.OpDecommission}), steps: done(through(domain.StepWatch)...)}, false,
			action{kind: actRun, step: domain.StepDecommission}},
		{"automatic decommission", view{run: run("auto", domain.StateAwaitingDecommission, nil), steps: done(through(domain.StepWatch)...)}, false, action{kind: actRun, step: domain.StepDecommission}},
		{"every step done", view{run: run("plain", domain.StateAwaitingDecommission, nil), steps: done(through(domain.StepDecommission)...)}, false,
			action{kind: actTransition, state: domain.StateSucceeded, reason: "upgraded to 3.5.0"}},
		{"rollback goes step by step", view{run: run("plain", domain.StateRollingBack, nil), steps: done(domain.StepRollbackStop)}, false, action{kind: actRun, step: domain.StepRollbackRestore}},
		{"rollback done", view{run: run("plain", domain.StateRollingBack, nil), steps: done(domain.StepRollbackStop, domain.StepRollbackRestore, domain.StepRollbackStart)}, false,
			action{kind: actTransition, state: domain.StateRolledBack, reason: "rolled back: every node answers 3.4.2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.v.steps == nil {
				tc.v.steps = map[domain.StepID]domain.StepRecord{}
			}
			got := e.decide(tc.v, now, tc.recovering)
			if got != tc.want {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestDecideScheduledGate: the gate of a run scheduled into a window that opens every three
// minutes for two (00:12–00:14), with a blackout from 00:13:30: when it is crossed, when it
// waits and until when, and when it expires. Its gate opened at the reminder, 00:11:00.
func TestDecideScheduledGate(t *testing.T) {
	sched, err := cron.ParseStandard("*/3 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m, s int) time.Time { return time.Date(2026, 12, 2, h, m, s, 0, time.UTC) }
	cfg := &config.Config{
		Access:    config.Access{RequiredApprovals: 1, ApprovalTimeout: config.Duration(time.Hour)},
		Windows:   []config.Window{{Name: "w", Cron: "*/3 * * * *", Duration: config.Duration(2 * time.Minute), Schedule: sched, Location: time.UTC}},
		Blackouts: []config.Blackout{{Name: "freeze", From: at(0, 13, 30), To: at(2, 0, 0)}},
		Clusters:  []config.Cluster{{Name: "windowed", Windows: []string{"w"}}, {Name: "plain"}},
	}
	e := &Engine{opts: Options{Config: cfg}}
	gateOpen := at(0, 11, 0)
	steps := func(gateOpen time.Time) map[domain.StepID]domain.StepRecord {
		m := map[domain.StepID]domain.StepRecord{}
		for _, id := range []domain.StepID{domain.StepPreflight, domain.StepFreeze, domain.StepBackup, domain.StepEvaluate, domain.StepStage} {
			m[id] = domain.StepRecord{Index: int(id), Status: domain.StepSucceeded}
		}
		m[domain.StepApproval] = domain.StepRecord{Index: int(domain.StepApproval), Status: domain.StepRunning, StartedAt: gateOpen}
		return m
	}
	windowed := domain.Run{ID: 1, Cluster: "windowed", State: domain.StateAwaitingApproval, From: "3.4.2", To: "3.5.0",
		Window: "w", ScheduledFor: at(0, 12, 0), Facts: domain.Facts{WindowCloses: time.Date(2026, 12, 2, 0, 14, 0, 0, time.UTC)}}
	// Scheduled for 00:12:40, inside the 00:12 opening: the gate waits for that time.
	late := windowed
	late.ScheduledFor = at(0, 12, 40)
	// A cluster without windows, scheduled for 03:00 (it prepared 15 minutes ahead).
	plain := domain.Run{ID: 2, Cluster: "plain", State: domain.StateAwaitingApproval, From: "3.4.2", To: "3.5.0",
		ScheduledFor: at(3, 0, 0), Facts: domain.Facts{WindowCloses: time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC)}}
	approved := []domain.Approval{{UserID: "U1", Decision: domain.DecisionApprove}}

	cases := []struct {
		name      string
		run       domain.Run
		approvals []domain.Approval
		now       time.Time
		want      action
	}{
		{"approved ahead: waits for the opening", windowed, approved, at(0, 11, 2), action{kind: actWait, until: at(0, 12, 0)}},
		{"approved ahead: crossed at the opening", windowed, approved, at(0, 12, 0), action{kind: actRun, step: domain.StepApproval}},
		{"approved inside the window: crossed", windowed, approved, at(0, 13, 0), action{kind: actRun, step: domain.StepApproval}},
		{"not approved: waits until the window closes", windowed, nil, at(0, 12, 30), action{kind: actWait, until: at(0, 14, 0)}},
		{"not approved when the window closes: expired", windowed, nil, at(0, 14, 0),
			action{kind: actTransition, state: domain.StateExpired, reason: "window w closed at 2026-12-02T00:14:00Z before the run was approved"}},
		{"approved in the blackout: waits, but not past the close", windowed, approved, at(0, 13, 40), action{kind: actWait, until: at(0, 14, 0)}},
		{"approved, blackout until after the close: expired, saying why", windowed, approved, at(0, 14, 0),
			action{kind: actTransition, state: domain.StateExpired, reason: "approved, but the downtime could not start before the deadline: window w closed at 2026-12-02T00:14:00Z, and blackout freeze ends only at 2026-12-02T02:00:00Z"}},
		{"scheduled for a time inside the window: waits for it", late, approved, at(0, 12, 10), action{kind: actWait, until: at(0, 12, 40)}},
		{"scheduled for a time inside the window: crossed then", late, approved, at(0, 12, 40), action{kind: actRun, step: domain.StepApproval}},
		{"no windows, approved ahead of the scheduled time: waits for it", plain, approved, at(2, 50, 0), action{kind: actWait, until: at(3, 0, 0)}},
		{"no windows, at the scheduled time: crossed", plain, approved, at(3, 0, 0), action{kind: actRun, step: domain.StepApproval}},
		{"no windows, approved, drawbridge back after the timeout but before the close: crossed", plain, approved, at(3, 50, 0), action{kind: actRun, step: domain.StepApproval}},
		{"no windows, approved, back after the close: expired", plain, approved, at(4, 0, 0),
			action{kind: actTransition, state: domain.StateExpired, reason: "approved, but the downtime could not start before the deadline: the time it was scheduled for (2026-12-02T03:00:00Z) was 1h past at 2026-12-02T04:00:00Z (drawbridge was not running)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opened := gateOpen
			if tc.run.Cluster == "plain" {
				opened = at(2, 45, 0) // 15 minutes ahead of 03:00
			}
			got := e.decide(view{run: tc.run, steps: steps(opened), approvals: tc.approvals}, tc.now, false)
			if got != tc.want {
				t.Errorf("decide = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestNextOpeningsSkipBlackouts: a frequent window's next opening after a long blackout is
// found (a page of nine openings, all inside the blackout, once hid it).
func TestNextOpeningsSkipBlackouts(t *testing.T) {
	sched, err := cron.ParseStandard("*/3 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, time.UTC) }
	cfg := &config.Config{
		Windows:   []config.Window{{Name: "w", Cron: "*/3 * * * *", Duration: config.Duration(2 * time.Minute), Schedule: sched, Location: time.UTC}},
		Blackouts: []config.Blackout{{Name: "week", From: at(2, 0, 10), To: at(9, 0, 1)}, {Name: "short", From: at(9, 0, 5), To: at(9, 0, 7)}},
		Clusters:  []config.Cluster{{Name: "c", Windows: []string{"w"}}},
	}
	e := &Engine{opts: Options{Config: cfg}}
	got, err := e.NextOpenings("c", "", at(2, 0, 0), 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{at(2, 0, 3), at(2, 0, 6), at(2, 0, 9), at(9, 0, 3)} // then 00:06 is in "short", 00:09 comes after
	if len(got) != len(want) {
		t.Fatalf("got %d openings: %+v", len(got), got)
	}
	for i := range want {
		if !got[i].Opens.Equal(want[i]) || !got[i].Closes.Equal(want[i].Add(2*time.Minute)) {
			t.Errorf("opening %d = %s–%s, want %s", i, got[i].Opens, got[i].Closes, want[i])
		}
	}
	more, _ := e.NextOpenings("c", "w", at(9, 0, 3), 2)
	if len(more) != 2 || !more[0].Opens.Equal(at(9, 0, 9)) || !more[1].Opens.Equal(at(9, 0, 12)) {
		t.Errorf("after 00:03 on the 9th: %+v, want 00:09 and 00:12 (00:06 is in a blackout)", more)
	}
}

// TestStepTable: every step of domain's table has its code, and only a step that may not
// repeat has a real-world check.
func TestStepTable(t *testing.T) {
	for _, d := range append(append([]stepDef{}, forwardSteps...), rollbackSteps...) {
		impl, ok := stepImpls[d.ID]
		if !ok || impl.run == nil {
			t.Errorf("step %s has no code", d.Name)
		}
		if impl.check != nil && d.Repeatable {
			t.Errorf("step %s may repeat, yet has a check", d.Name)
		}
	}
	if len(stepImpls) != len(forwardSteps)+len(rollbackSteps) {
		t.Errorf("%d steps have code, the table has %d", len(stepImpls), len(forwardSteps)+len(rollbackSteps))
	}
}
