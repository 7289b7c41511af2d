package upgrade_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
)

// TestRestoreTimesOut: a rollback whose restore runs out of database.restore_timeout ends
// "rollback failed" in bounded time, saying so, with the rollback offered again; it never
// hangs with the cluster down and nothing said.
func TestRestoreTimesOut(t *testing.T) {
	t.Parallel()
	services(t)
	kc := kongtest.New(t, kongtest.Options{Nodes: 1, PG: sharedPG})
	path, cfg := kc.WriteConfig(kongtest.ConfigOptions{PrometheusURL: sharedProm.URL(), DatabaseExtra: "      restore_timeout: 5ms"})
	c := &cluster{Cluster: kc, t: t, cfgPath: path, cfg: cfg}
	h := newHarness(t, c, nil)
	ctx := t.Context()
	c.Set([]string{"faults.migration_fail=021_340_to_350"})
	run := h.startToGate("3.5.0")
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateNeedsAttention)
	start := time.Now()
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	rf := h.waitState(run.ID, long, domain.StateRollbackFailed)
	if !strings.Contains(rf.Reason, "the restore took longer than 5ms") {
		t.Errorf("reason %q", rf.Reason)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the rollback took %s to fail", took)
	}
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatalf("a rollback that failed is not offered again: %v", err)
	}
	h.waitState(run.ID, long, domain.StateRollbackFailed, domain.StateRollingBack)
}
