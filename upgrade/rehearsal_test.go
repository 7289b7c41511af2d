package upgrade_test

import (
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/upgrade"
)

// TestRehearsalAbortDropsCopy: a run aborted while its rehearsal migrates the copy ends with
// the copy dropped and X untouched.
func TestRehearsalAbortDropsCopy(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1, rehearsal: true})
	c.Set([]string{"faults.migration_delay=2s"})
	h := newHarness(t, c, nil)
	run, err := h.engine.Start(t.Context(), upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
	if err != nil {
		t.Fatal(err)
	}
	db := c.database()
	deadline := time.Now().Add(long)
	for {
		copies, err := db.Copies(t.Context(), db.Name()+"_rehearsal_")
		if err != nil {
			t.Fatal(err)
		}
		if len(copies) == 1 && h.steps(run.ID)["rehearsal"].Status == domain.StepRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rehearsal copy appeared: %s", h.describe(run.ID))
		}
		time.Sleep(20 * time.Millisecond) // polling the server's databases
	}
	if _, err := h.engine.Abort(t.Context(), run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAborted)
	if copies, err := db.Copies(t.Context(), db.Name()+"_rehearsal_"); err != nil || len(copies) > 0 {
		t.Fatalf("copies after the abort: %v %v", copies, err)
	}
	c.WantVersions("3.4.2")
	if n := c.CommandCount("stop"); n != 0 {
		t.Fatalf("%d stop commands", n)
	}
}
