package upgrade_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/storage"
)

// TestLegacyStateResumes opens the state file the release before typed facts wrote
// (legacyDir), with the Kong databases of that moment restored and the nodes started as
// they were: every run's details are typed, and the run waiting at the gate and the run in
// the middle of its watch both go on to the end.
func TestLegacyStateResumes(t *testing.T) {
	t.Parallel()
	services(t)
	gate := legacyCluster(t, "gate.dump")
	watch := legacyCluster(t, "watch.dump")
	gateProm, watchProm := gate.StartPrometheus(t), watch.StartPrometheus(t)
	// The watch cluster's watch is shorter now than when the file was written (an hour):
	// its run, started then, is past its end and is judged from Prometheus's history, which
	// this fresh Prometheus does not have: it ends blind, for a person to decide. The
	// approval timeout is long enough for the gate the file's run opened in 2026 to be still
	// open.
	_, cfg := gate.WriteConfig(kongtest.ConfigOptions{Name: "gate", PrometheusURL: gateProm.URL(), Watch: 3 * time.Second, Extra: legacyChecks,
		ApprovalTTL: 200_000 * time.Hour,
		Others:      []kongtest.Other{{Name: "watch", Cluster: watch, PrometheusURL: watchProm.URL(), Watch: 2 * time.Second}}})
	if err := os.MkdirAll(filepath.Dir(cfg.StateFile), 0o700); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(legacyDir, "drawbridge.db"), cfg.StateFile)

	store, err := storage.Open(cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if v, err := store.SchemaVersion(ctx); err != nil || v != 3 {
		t.Fatalf("schema version %d, %v; want 3 after the migration", v, err)
	}
	runs, err := store.ListRuns(ctx, storage.RunFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	states := map[domain.RunState]bool{}
	byCluster := map[string][]domain.Run{}
	for _, r := range runs {
		states[r.State] = true
		byCluster[r.Cluster] = append(byCluster[r.Cluster], r)
	}
	for _, s := range []domain.RunState{domain.StateScheduled, domain.StatePreparing, domain.StateAwaitingApproval, domain.StateRejected,
		domain.StateExpired, domain.StateStopping, domain.StateMigrating, domain.StateStarting, domain.StateWatching,
		domain.StateAwaitingDecommission, domain.StateSucceeded, domain.StateFailedBeforeDowntime, domain.StateNeedsAttention,
		domain.StateRollingBack, domain.StateRolledBack, domain.StateRollbackFailed, domain.StateAborted} {
		if !states[s] {
			t.Errorf("the file has no run %s", s)
		}
	}
	atGate, watching := byCluster["gate"][0], byCluster["watch"][0]
	if atGate.State != domain.StateAwaitingApproval || watching.State != domain.StateWatching {
		t.Fatalf("gate run %s is %s, watch run %s is %s", atGate.ID, atGate.State, watching.ID, watching.State)
	}
	// The facts the engine goes on from, typed. (The old file kept each measure rounded to
	// the millisecond on its own, so overhead may be 1 ms off downtime − commands.)
	f := atGate.Facts
	switch {
	case f.Freeze == nil || f.Freeze.Hash == "" || len(f.Freeze.Tables) == 0:
		t.Errorf("gate run: no freeze fingerprint: %+v", f.Freeze)
	case !f.Frozen:
		t.Error("gate run: the freeze command's run is not recorded")
	case f.Backup == nil || !strings.HasSuffix(f.Backup.Path, "/6.dump") || f.Backup.Size == 0 || len(f.Backup.SHA256) != 64:
		t.Errorf("gate run: backup %+v", f.Backup)
	case f.Baseline == nil || f.Baseline.Values["traffic (req/s)"] <= 0 || len(f.Baseline.Skipped) == 0:
		t.Errorf("gate run: baseline %+v", f.Baseline)
	}
	if w := watching.Facts; w.WatchStarted.IsZero() || w.Measured.Downtime <= 0 || w.Measured.Commands <= 0 || (w.Measured.Downtime-w.Measured.Commands-w.Measured.Overhead).Abs() > time.Millisecond {
		t.Errorf("watch run: started %s, measured %+v", w.WatchStarted, w.Measured)
	}
	var rolledBack domain.Run
	for _, r := range byCluster["gate"] {
		if r.State == domain.StateRolledBack {
			rolledBack = r
		}
	}
	if m := rolledBack.Facts.Measured; m.RollbackDowntime <= 0 || m.Downtime <= 0 || !strings.Contains(rolledBack.Reason, "more during the rollback") {
		t.Errorf("rolled-back run %s: measured %+v, reason %q", rolledBack.ID, m, rolledBack.Reason)
	}
	steps, err := store.Steps(ctx, rolledBack.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		ok := true
		switch s.Name {
		case "preflight":
			ok = len(s.Facts.Checks) >= 7 && s.Facts.Checks[0].Verdict == "ok"
		case "backup":
			ok = s.Facts.Backup != nil && s.Facts.Took > 0
		case "evaluate":
			ok = s.Facts.Evaluation != nil && s.Facts.Evaluation.Migrations == 1 && slices.Equal(s.Facts.Evaluation.BreakingLines, []string{"3.5"})
		case "approval":
			ok = s.Facts.Gate != nil && s.Facts.Gate.Crossed && slices.Equal(s.Facts.Gate.ApprovedBy, []string{"U0APPROVER"})
		case "stop":
			ok = s.Facts.Commands > 0 && len(s.Facts.Spans) == 2
		case "rollback_restore":
			ok = s.Facts.Restore != nil && s.Facts.Restore.Method == "rename" && s.Facts.Fingerprint == f.Freeze.Hash
		}
		if !ok {
			t.Errorf("rolled-back run, step %s: facts %+v", s.Name, s.Facts)
		}
	}
	// Every detail found its field: nothing was left for the audit log.
	audit, err := store.Audit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range audit {
		if e.Action == "migrate" {
			t.Errorf("run %s: the migration kept details it could not type: %s", e.Run, e.Detail)
		}
	}

	h := startHarness(t, cfg, store, nil)
	if _, err := h.engine.Approve(ctx, atGate.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	blind := h.waitState(watching.ID, long, domain.StateNeedsAttention)
	if !strings.Contains(blind.Reason, "cannot see the metrics") {
		t.Errorf("watch run resumed past its end: %q, want it blind (no history to judge)", blind.Reason)
	}
	if _, err := h.engine.Resume(ctx, watching.ID, "U0OPERATOR"); err != nil { // watch again, from now
		t.Fatal(err)
	}
	for _, id := range []domain.RunID{watching.ID, atGate.ID} {
		h.waitState(id, long, domain.StateAwaitingDecommission)
		if _, err := h.engine.Decommission(ctx, id, "U0OPERATOR"); err != nil {
			t.Fatal(err)
		}
		done := h.waitState(id, long, domain.StateSucceeded)
		t.Logf("run %s: %s", id, done.Reason)
	}
	gate.WantVersions("3.6.1")
	watch.WantVersions("3.5.0")
}

// legacyCluster is a two-node kongsim cluster on 3.5.0 whose database is the dump of the
// same name in legacyDir, restored before its nodes start.
func legacyCluster(t *testing.T, dump string) *kongtest.Cluster {
	t.Helper()
	c := kongtest.New(t, kongtest.Options{Nodes: 2, Version: "3.5.0", PG: sharedPG, NoStart: true})
	cmd := exec.Command(filepath.Join(sharedPG.BinDir(), "pg_restore"), "--clean", "--if-exists", "--no-owner", "-d", c.DSN(), filepath.Join(legacyDir, dump))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore %s: %v\n%s", dump, err, out)
	}
	for _, n := range c.Nodes {
		c.Run("kong", "start", "-c", n.Conf)
	}
	return c
}
