package upgrade_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/notify/words"
)

// TestPredictionFromTheLastRun: two upgrades of a cluster without a rehearsal. The first is
// predicted from the stated defaults; the second from the first, whose measured parts it
// takes as they are, and its rehearsal step (skipped) says so.
func TestPredictionFromTheLastRun(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2})
	h := newHarness(t, c, nil)

	first := h.startToGate("3.5.0")
	if p := first.Facts.Prediction; p == nil || p.Runs != 0 || p.Migrations != "default" || p.Nodes != "default" {
		t.Errorf("the first run's prediction %+v, want the defaults", p)
	}
	if _, err := h.engine.Approve(t.Context(), first.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(first.ID, long, domain.StateAwaitingDecommission)
	if _, err := h.engine.Decommission(t.Context(), first.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	first = h.waitState(first.ID, long, domain.StateSucceeded)
	measured := first.Facts.Measured.Parts
	if measured == nil || measured.Stop <= 0 || measured.Start <= 0 || measured.Up <= 0 {
		t.Fatalf("the first run measured %+v", measured)
	}

	second := h.startToGate("3.6.1")
	p := second.Facts.Prediction
	if p == nil {
		t.Fatal("the second run has no prediction")
	}
	if p.Runs != 1 || p.Migrations != "earlier runs" || p.Nodes != "earlier runs" || p.DowntimeParts != *measured {
		t.Errorf("the second run's prediction %+v, want the first run's measured parts %+v from 1 earlier run", p, *measured)
	}
	rh := h.steps(second.ID)["rehearsal"]
	for _, want := range []string{words.NotRehearsed, words.Prediction(*p), "(migrations from earlier runs, the rest from 1 earlier run(s))"} {
		if !strings.Contains(rh.OutputTail, want) {
			t.Errorf("the rehearsal step's output lacks %q:\n%s", want, rh.OutputTail)
		}
	}
	if rh.Status != domain.StepSkipped {
		t.Errorf("the rehearsal step is %s, want skipped", rh.Status)
	}
}

// TestPredictionAveragesEarlierRuns: the plan's prediction is the average of the cluster's
// latest five successful runs that measured their parts; other runs, and other clusters',
// are left out.
func TestPredictionAveragesEarlierRuns(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1})
	h := newHarness(t, c, nil)
	parts := func(s int) *domain.DowntimeParts {
		d := time.Duration(s) * time.Second
		return &domain.DowntimeParts{Stop: d, Install: 2 * d, Up: 3 * d, Finish: 4 * d, Start: 5 * d, Overhead: d / 10}
	}
	type earlier struct {
		cluster string
		state   domain.RunState
		parts   *domain.DowntimeParts
	}
	tests := []struct {
		name  string
		add   []earlier // stored after the earlier cases' runs, oldest first
		runs  int
		parts domain.DowntimeParts
	}{
		{"no earlier run: the defaults", nil, 0, domain.DowntimeParts{Stop: 10 * time.Second, Install: 30 * time.Second,
			Up: 30 * time.Second, Finish: 10 * time.Second, Start: 20 * time.Second, Overhead: 5 * time.Second}},
		{"one run", []earlier{{"test", domain.StateSucceeded, parts(60)}}, 1, *parts(60)},
		{"runs that failed, measured nothing or were on another cluster are left out", []earlier{
			{"test", domain.StateRolledBack, parts(1)},
			{"test", domain.StateFailedBeforeDowntime, parts(1)},
			{"test", domain.StateSucceeded, nil},
			{"other", domain.StateSucceeded, parts(1)},
		}, 1, *parts(60)},
		{"two runs averaged", []earlier{{"test", domain.StateSucceeded, parts(20)}}, 2, *parts(40)},
		{"the latest five of six", []earlier{
			{"test", domain.StateSucceeded, parts(2)},
			{"test", domain.StateSucceeded, parts(4)},
			{"test", domain.StateSucceeded, parts(6)},
			{"test", domain.StateSucceeded, parts(8)},
		}, 5, *parts(8)}, // (20+2+4+6+8)/5; the run of 60 is the sixth
	}
	for _, tt := range tests { // in order: each case's runs join the earlier cases'
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range tt.add {
				r := domain.Run{Cluster: e.cluster, From: "3.3.0", To: "3.4.2", State: e.state}
				r.Facts.Measured.Parts = e.parts
				if _, err := h.store.CreateRun(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			plan, err := h.engine.Plan(t.Context(), "test", "3.5.0")
			if err != nil {
				t.Fatal(err)
			}
			p := plan.Prediction
			if p.Runs != tt.runs || p.DowntimeParts != tt.parts {
				t.Errorf("predicted %+v from %d run(s), want %+v from %d", p.DowntimeParts, p.Runs, tt.parts, tt.runs)
			}
		})
	}
}
