package upgrade_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kong/pgdb"
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

// TestRehearsalOnAnotherServer: with rehearsal.dsn the copy is made on another PostgreSQL
// server (owned by that server's role, restored without owners), the rehearsal's commands
// are pointed there through .Scratch, and nothing is left on either server.
func TestRehearsalOnAnotherServer(t *testing.T) {
	t.Parallel()
	services(t)
	other, err := testsvc.NewPostgres(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	kc := kongtest.New(t, kongtest.Options{Nodes: 1, PG: sharedPG})
	path, cfg := kc.WriteConfig(kongtest.ConfigOptions{PrometheusURL: sharedProm.URL(), Rehearsal: true, RehearsalDSN: other.DSN("postgres")})
	c := &cluster{Cluster: kc, t: t, cfgPath: path, cfg: cfg}
	h := newHarness(t, c, nil)
	run := h.startToGate("3.5.0")
	rec := h.steps(run.ID)["rehearsal"]
	where := fmt.Sprintf("on 127.0.0.1:%d", other.Port)
	if rec.Status != domain.StepSucceeded || !strings.Contains(rec.OutputTail, where) || run.Facts.Rehearsal == nil {
		t.Fatalf("rehearsal %s, want it %s:\n%s", rec.Status, where, rec.OutputTail)
	}
	otherDB, err := pgdb.Open(t.Context(), other.DSN("postgres"), pgdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kongDB := c.database()
	for _, db := range []*pgdb.DB{otherDB, kongDB} {
		if copies, err := db.Copies(t.Context(), kc.DB+"_rehearsal_"); err != nil || len(copies) > 0 {
			t.Fatalf("copies left: %v %v", copies, err)
		}
	}
	if st, err := kongDB.Schema(t.Context()); err != nil || len(st.Pending()) > 0 {
		t.Fatalf("Kong's database changed by the rehearsal: %v %v", st.Pending(), err)
	}
	c.WantVersions("3.4.2")
}
