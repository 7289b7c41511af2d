package upgrade

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

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
	steps := func(gateOpen time.Time) map[StepID]storage.StepRecord {
		m := map[StepID]storage.StepRecord{}
		for _, id := range []StepID{StepPreflight, StepFreeze, StepBackup, StepEvaluate, StepStage} {
			m[id] = storage.StepRecord{Index: int(id), Status: storage.StepSucceeded}
		}
		m[StepApproval] = storage.StepRecord{Index: int(StepApproval), Status: storage.StepRunning, StartedAt: gateOpen}
		return m
	}
	windowed := storage.Run{ID: 1, Cluster: "windowed", State: storage.StateAwaitingApproval, From: "3.4.2", To: "3.5.0",
		Window: "w", ScheduledFor: at(0, 12, 0), Details: map[string]string{detailWindowCloses: "2026-12-02T00:14:00Z"}}
	// Scheduled for 00:12:40, inside the 00:12 opening: the gate waits for that time.
	late := windowed
	late.ScheduledFor = at(0, 12, 40)
	// A cluster without windows, scheduled for 03:00 (it prepared 15 minutes ahead).
	plain := storage.Run{ID: 2, Cluster: "plain", State: storage.StateAwaitingApproval, From: "3.4.2", To: "3.5.0",
		ScheduledFor: at(3, 0, 0), Details: map[string]string{detailWindowCloses: "2026-12-02T04:00:00Z"}}
	approved := []storage.Approval{{UserID: "U1", Decision: storage.DecisionApprove}}

	cases := []struct {
		name      string
		run       storage.Run
		approvals []storage.Approval
		now       time.Time
		want      action
	}{
		{"approved ahead: waits for the opening", windowed, approved, at(0, 11, 2), action{kind: actWait, until: at(0, 12, 0)}},
		{"approved ahead: crossed at the opening", windowed, approved, at(0, 12, 0), action{kind: actRun, step: StepApproval}},
		{"approved inside the window: crossed", windowed, approved, at(0, 13, 0), action{kind: actRun, step: StepApproval}},
		{"not approved: waits until the window closes", windowed, nil, at(0, 12, 30), action{kind: actWait, until: at(0, 14, 0)}},
		{"not approved when the window closes: expired", windowed, nil, at(0, 14, 0),
			action{kind: actTransition, state: storage.StateExpired, reason: "window w closed at 2026-12-02T00:14:00Z before the run was approved"}},
		{"approved in the blackout: waits, but not past the close", windowed, approved, at(0, 13, 40), action{kind: actWait, until: at(0, 14, 0)}},
		{"approved, blackout until after the close: expired, saying why", windowed, approved, at(0, 14, 0),
			action{kind: actTransition, state: storage.StateExpired, reason: "approved, but the downtime could not start before the deadline: window w closed at 2026-12-02T00:14:00Z, and blackout freeze ends only at 2026-12-02T02:00:00Z"}},
		{"scheduled for a time inside the window: waits for it", late, approved, at(0, 12, 10), action{kind: actWait, until: at(0, 12, 40)}},
		{"scheduled for a time inside the window: crossed then", late, approved, at(0, 12, 40), action{kind: actRun, step: StepApproval}},
		{"no windows, approved ahead of the scheduled time: waits for it", plain, approved, at(2, 50, 0), action{kind: actWait, until: at(3, 0, 0)}},
		{"no windows, at the scheduled time: crossed", plain, approved, at(3, 0, 0), action{kind: actRun, step: StepApproval}},
		{"no windows, approved, drawbridge back after the timeout but before the close: crossed", plain, approved, at(3, 50, 0), action{kind: actRun, step: StepApproval}},
		{"no windows, approved, back after the close: expired", plain, approved, at(4, 0, 0),
			action{kind: actTransition, state: storage.StateExpired, reason: "approved, but the downtime could not start before the deadline: the time it was scheduled for (2026-12-02T03:00:00Z) was 1h past at 2026-12-02T04:00:00Z (drawbridge was not running)"}},
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
