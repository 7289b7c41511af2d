package upgrade_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
	"github.com/drawbridge/drawbridge/wire"
	"github.com/jackc/pgx/v5"
)

const long = 90 * time.Second

// TestUpgradeSucceeds: 3.4 → 3.5 on three kongsim nodes, every step checked, approved by
// a second person, watched, decommissioned.
func TestUpgradeSucceeds(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	db := c.database()
	before, err := db.Fingerprint(ctx)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	run, err := h.engine.Start(ctx, upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Start(ctx, upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"}); !errors.Is(err, storage.ErrClusterBusy) {
		t.Errorf("a second run on the cluster: %v, want ErrClusterBusy", err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingApproval)
	c.WantVersions("3.4.2") // nothing touched before the gate

	// Legality: the requester may not approve; nobody may decommission yet.
	if _, err := h.engine.Approve(ctx, run.ID, "U0OPERATOR"); !errors.Is(err, upgrade.ErrIllegal) {
		t.Errorf("self-approval: %v", err)
	}
	if _, err := h.engine.Decommission(ctx, run.ID, "U0OPERATOR"); !errors.Is(err, upgrade.ErrIllegal) {
		t.Errorf("decommission at the gate: %v", err)
	}
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); !errors.Is(err, upgrade.ErrIllegal) {
		t.Errorf("rollback before the downtime: %v", err)
	}
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err == nil {
		t.Error("a second approval by the same person was accepted")
	}
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	c.WantVersions("3.5.0")
	if _, err := h.engine.Decommission(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	done := h.waitState(run.ID, long, domain.StateSucceeded)

	if done.From != "3.4.2" || done.To != "3.5.0" {
		t.Errorf("run from %s to %s", done.From, done.To)
	}
	steps := h.steps(run.ID)
	for _, name := range []string{"preflight", "freeze", "backup", "evaluate", "approval", "stop", "migrations_up", "migrations_finish", "start", "watch", "decommission"} {
		if s := steps[name]; s.Status != domain.StepSucceeded {
			t.Errorf("step %s is %s: %s", name, s.Status, s.Error)
		}
	}
	if s := steps["stage"]; s.Status != domain.StepSkipped {
		t.Errorf("stage (no command) is %s", s.Status)
	}
	if b := steps["backup"].Facts.Backup; b == nil || b.SHA256 == "" || b.Size == 0 {
		t.Errorf("backup facts %+v", b)
	} else if _, err := os.Stat(b.Path); err != nil {
		t.Errorf("backup file: %v", err)
	}
	if m := done.Facts.Measured; m.Downtime <= 0 || m.Commands <= 0 || m.Overhead != m.Downtime-m.Commands {
		t.Errorf("measurements %+v", m)
	}
	if done.DowntimeStart.IsZero() || !done.DowntimeEnd.After(done.DowntimeStart) {
		t.Errorf("downtime %s → %s", done.DowntimeStart, done.DowntimeEnd)
	}
	if !strings.Contains(done.Reason, "upgraded from 3.4.2 to 3.5.0; downtime") {
		t.Errorf("summary %q", done.Reason)
	}
	if got := c.CommandCount("migrations up"); got != 1 {
		t.Errorf("migrations up ran %d times", got)
	}
	if got := c.CommandCount("migrations finish"); got != 1 {
		t.Errorf("migrations finish ran %d times", got)
	}
	// Kong's configuration is the same configuration, migrated.
	db = c.database()
	defer db.Close()
	st, err := db.Schema(ctx)
	if err != nil || len(st.Pending()) != 0 {
		t.Errorf("schema after the upgrade: pending %v, %v", st.Pending(), err)
	}
	if after, err := db.Fingerprint(ctx); err != nil || after.Tables["services"].Rows != before.Tables["services"].Rows {
		t.Errorf("services rows %d → %d (%v)", before.Tables["services"].Rows, after.Tables["services"].Rows, err)
	}
	// The audit log tells the story, in order.
	var actions []string
	for _, e := range h.audit(run.ID) {
		actions = append(actions, e.Actor+":"+e.Action)
	}
	joined := strings.Join(actions, " ")
	for _, want := range []string{"U0OPERATOR:start", "U0APPROVER:approve", "U0OPERATOR:decommission", "drawbridge:state_succeeded"} {
		if !strings.Contains(joined, want) {
			t.Errorf("audit log lacks %s: %s", want, joined)
		}
	}
	if strings.Index(joined, "U0APPROVER:approve") > strings.Index(joined, "step_started: stop") && strings.Contains(joined, "step_started: stop") {
		t.Error("the stop started before the approval")
	}
}

// TestMigrationFailureRollsBack: migrations up fails in the middle → needs attention →
// rollback → the database's fingerprint and schema_meta are X's again and every node
// answers X.
func TestMigrationFailureRollsBack(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{unverified: true})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	db := c.database()
	before, _ := db.Fingerprint(ctx)
	schemaBefore, _ := db.Schema(ctx)
	db.Close()
	c.Set([]string{"faults.migration_fail=022_350_to_360"}, 0) // migrations run with node 1's conf

	run := h.startToGate("3.6.1")
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
	if !strings.Contains(failed.Reason, "022_350_to_360") {
		t.Errorf("reason %q does not name the failing migration", failed.Reason)
	}
	if _, err := h.engine.Abort(ctx, run.ID, "U0OPERATOR"); !errors.Is(err, upgrade.ErrIllegal) {
		t.Errorf("abort after the downtime began: %v", err)
	}
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	done := h.waitState(run.ID, long, domain.StateRolledBack)
	c.WantVersions("3.4.2")

	db = c.database()
	defer db.Close()
	after, err := db.Fingerprint(ctx)
	if err != nil || !after.Equal(before) {
		t.Errorf("fingerprint after rollback differs: %v %v", after.Diff(before), err)
	}
	schemaAfter, err := db.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schemaString(schemaAfter), schemaString(schemaBefore); got != want {
		t.Errorf("schema_meta after rollback:\n%s\nwant:\n%s", got, want)
	}
	steps := h.steps(run.ID)
	if r := steps["rollback_restore"].Facts.Restore; r == nil || r.Method != "rename" || r.FailedDB == "" {
		t.Errorf("restore facts %+v", r)
	}
	if !strings.Contains(done.Reason, "rolled back to 3.4.2") {
		t.Errorf("summary %q", done.Reason)
	}
	// 3.5.0 never answered: one outage from the upgrade's stop until 3.4.2 answered again.
	if d := done.Facts.Measured.RollbackDowntime; d == 0 || !strings.Contains(done.Reason, fmt.Sprintf("downtime %.3f s, from the upgrade's stop until 3.4.2 answered again", d.Seconds())) {
		t.Errorf("rollback downtime %s, summary %q", d, done.Reason)
	} else if want := steps["rollback_start"].EndedAt.Sub(done.DowntimeStart).Seconds(); d.Seconds() > want+0.001 || d.Seconds() < 0.1 {
		t.Errorf("rollback downtime %s, want at most the %.3fs from the upgrade's stop to the rollback's end", d, want)
	}
}

func schemaString(st interface{ Pending() []string }) string {
	b, _ := jsonMarshal(st)
	return string(b)
}

// TestNodeWillNotStart: a node fails to start Y → needs attention → rollback → X.
func TestNodeWillNotStart(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	run := h.startToGate("3.5.0")
	c.Set([]string{"faults.start_fail=nginx: [emerg] unknown directive \"lua_shared_dict_bad\""}, 1)
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVE2"); err != nil {
		t.Fatal(err)
	}
	failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
	if !strings.Contains(failed.Reason, "start Y failed") || !strings.Contains(failed.Reason, c.Nodes[1].Name) {
		t.Errorf("reason %q", failed.Reason)
	}
	c.Set([]string{"faults.start_fail="}, 1) // the operator fixes the node
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateRolledBack)
	c.WantVersions("3.4.2")
}

// TestAutoRollbackOnWatchBreach: with auto_rollback, a node of Y that crashes during the watch
// rolls the run back without anyone clicking.
func TestAutoRollbackOnWatchBreach(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{autoRollback: true, watch: 20 * time.Second})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	run := h.startToGate("3.5.0")
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateWatching)
	c.KillNode(2) // a node of Y crashes during the watch
	h.waitState(run.ID, long, domain.StateRolledBack)
	c.WantVersions("3.4.2")
	st, _ := h.engine.Status(ctx, run.ID)
	if !strings.Contains(st.Run.Reason, "rolled back") {
		t.Errorf("summary %q", st.Run.Reason)
	}
	// Y answered before the breach: the rollback's own outage is reported besides the upgrade's.
	if d := st.Run.Facts.Measured.RollbackDowntime; d == 0 || st.Run.Facts.Measured.Downtime == 0 ||
		!strings.Contains(st.Run.Reason, fmt.Sprintf(" and %.3f s more during the rollback", d.Seconds())) {
		t.Errorf("rollback downtime %s, summary %q", d, st.Run.Reason)
	}
	var sawRollback bool
	for _, e := range h.audit(run.ID) {
		if e.Action == "rollback" && strings.Contains(e.Detail, "auto_rollback") {
			sawRollback = true
		}
	}
	if !sawRollback {
		t.Error("the audit log does not record the automatic rollback")
	}
}

// TestPostgresStopsDuringBackup: the database dies while it is being backed up → failed
// before downtime, X still serving.
func TestPostgresStopsDuringBackup(t *testing.T) {
	t.Parallel()
	services(t)
	pg := startPostgres(t)
	c := newCluster(t, clusterOpts{pg: pg})
	killed := make(chan struct{})
	h := newHarness(t, c, func(o *upgrade.Options) {
		sink := o.Sink
		o.Sink = upgrade.SinkFunc(func(e domain.Event) {
			if e.Kind == domain.EventStepStarted && e.Step.Name == "backup" {
				if err := pg.Kill(); err != nil {
					t.Error(err)
				}
				close(killed)
			}
			sink.Emit(e)
		})
	})
	run, err := h.engine.Start(t.Context(), upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
	if err != nil {
		t.Fatal(err)
	}
	done := h.waitState(run.ID, long, domain.StateFailedBeforeDowntime)
	<-killed
	if !strings.Contains(done.Reason, "database backup failed") {
		t.Errorf("reason %q", done.Reason)
	}
	if !done.DowntimeStart.IsZero() {
		t.Error("the downtime began")
	}
	for i, v := range c.Versions() {
		if !strings.HasPrefix(v, "3.4.2") { // still serving X (not ready: its database is gone)
			t.Errorf("node %s answers %s", c.Nodes[i].Name, v)
		}
	}
	if strings.Contains(done.Reason, "password") {
		t.Errorf("reason shows a password: %q", done.Reason)
	}
}

// TestConfigChangeDuringFreeze: a service added after the freeze stops the run at the gate,
// before any downtime, naming the table.
func TestConfigChangeDuringFreeze(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	run := h.startToGate("3.5.0")
	execSQL(t, c, `INSERT INTO services (id, created_at, updated_at, name, protocol, host, port, ws_id)
		SELECT gen_random_uuid(), now(), now(), 'added-during-freeze', 'http', 'example.internal', 80, id FROM workspaces WHERE name = 'default'`)
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	done := h.waitState(run.ID, long, domain.StateFailedBeforeDowntime)
	if !strings.Contains(done.Reason, "services") || !strings.Contains(done.Reason, "changed during the freeze") {
		t.Errorf("reason %q does not name the services table", done.Reason)
	}
	if !done.DowntimeStart.IsZero() {
		t.Error("the downtime began")
	}
	c.WantVersions("3.4.2")
}

// TestRejectAndAbort: a rejection ends the run at the gate; an abort before the downtime
// ends it with the freeze lifted.
func TestRejectAndAbort(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	run := h.startToGate("3.5.0")
	if _, err := h.engine.Reject(ctx, run.ID, "U0APPROVER", "not during the sale"); err != nil {
		t.Fatal(err)
	}
	done := h.waitState(run.ID, long, domain.StateRejected)
	if !strings.Contains(done.Reason, "not during the sale") {
		t.Errorf("reason %q", done.Reason)
	}
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVE2"); !errors.Is(err, upgrade.ErrIllegal) {
		t.Errorf("approve after rejection: %v", err)
	}

	run2 := h.startToGate("3.5.0")
	if _, err := h.engine.Abort(ctx, run2.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	done = h.waitState(run2.ID, long, domain.StateAborted)
	if !strings.Contains(done.Reason, "freeze lifted") {
		t.Errorf("reason %q", done.Reason)
	}
	c.WantVersions("3.4.2")
}

// TestPlan: the dry run changes nothing and refuses an unverified jump with its hops.
func TestPlan(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	p, err := h.engine.Plan(ctx, "test", "3.6.1")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Refused || !strings.Contains(p.Reason, "3.4.2 → 3.5.0 → 3.6.1") {
		t.Errorf("3.4.2 → 3.6.1: refused %v: %s", p.Refused, p.Reason)
	}
	p, err = h.engine.Plan(ctx, "test", "3.5.0")
	if err != nil {
		t.Fatal(err)
	}
	if p.Refused {
		t.Fatalf("3.5.0 refused: %s", p.Reason)
	}
	if len(p.Migrations) != 1 || p.Migrations[0].Name != "021_340_to_350" || len(p.Breaking) != 1 {
		t.Errorf("plan: migrations %v, breaking %v", p.Migrations, p.Breaking)
	}
	if runs, _ := h.store.ListRuns(ctx, storage.RunFilter{}); len(runs) != 0 {
		t.Errorf("plan created runs: %v", runs)
	}
	c.WantVersions("3.4.2")
	_ = context.Background
}

// TestShutdownDuringWatch: a graceful shutdown interrupts the watch at once and leaves it
// recorded as running; the next engine on the same state file resumes it from its stored
// start time.
func TestShutdownDuringWatch(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1, watch: 8 * time.Second})
	ctx := t.Context()
	store, err := storage.Open(c.cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := upgrade.New(nodeWatch(wire.EngineOptions(c.cfg, store, nil)))
	if err != nil {
		t.Fatal(err)
	}
	run, err := eng.Start(ctx, upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
	if err != nil {
		t.Fatal(err)
	}
	waitStore(t, store, run.ID, domain.StateAwaitingApproval)
	if _, err := eng.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	waitStore(t, store, run.ID, domain.StateWatching)
	start := time.Now()
	eng.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s during a watch", d)
	}
	steps, _ := store.Steps(ctx, run.ID)
	for _, s := range steps {
		if s.Name == "watch" && s.Status != domain.StepRunning {
			t.Errorf("watch is %s after the shutdown, want running", s.Status)
		}
	}
	store.Close()

	h := newHarness(t, c, nil) // a new drawbridge on the same state file
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	if s := h.steps(run.ID)["watch"]; s.Attempt != 2 || s.Status != domain.StepSucceeded {
		t.Errorf("watch: attempt %d, %s", s.Attempt, s.Status)
	}
}

func waitStore(t *testing.T, store *storage.Store, id domain.RunID, want domain.RunState) {
	t.Helper()
	deadline := time.Now().Add(long)
	for {
		run, err := store.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.State == want {
			return
		}
		if run.State.Terminal() || time.Now().After(deadline) {
			t.Fatalf("run is %s (%s), want %s", run.State, run.Reason, want)
		}
		time.Sleep(20 * time.Millisecond) // polling the stored state
	}
}

// TestRollbackFailsThenRetries: a rollback whose backup is gone ends "rollback failed" with
// the reason kept; with the backup back, rolling back again succeeds.
func TestRollbackFailsThenRetries(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	c.Set([]string{"faults.migration_fail=021_340_to_350"}, 0)
	run := h.startToGate("3.5.0")
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
	backup := failed.Facts.Backup.Path
	if err := os.Rename(backup, backup+".away"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	rf := h.waitState(run.ID, long, domain.StateRollbackFailed)
	if !strings.Contains(rf.Reason, "restore database failed") || !strings.Contains(rf.Reason, backup) {
		t.Errorf("reason %q", rf.Reason)
	}
	if s := h.steps(run.ID)["rollback_restore"]; s.Status != domain.StepFailed || s.Error == "" {
		t.Errorf("restore step %s: %q", s.Status, s.Error)
	}
	if err := os.Rename(backup+".away", backup); err != nil {
		t.Fatal(err)
	}
	c.Set([]string{"faults.migration_fail="}, 0)
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateRolledBack)
	c.WantVersions("3.4.2")
}

// TestLockedKongTable: a session holds a lock on one of Kong's tables; the freeze's
// fingerprint gives up after lock_timeout and the run ends before any downtime, naming the
// table and the session that holds it.
func TestLockedKongTable(t *testing.T) {
	t.Parallel()
	services(t)
	kc := kongtest.New(t, kongtest.Options{Nodes: 1, PG: sharedPG})
	path, cfg := kc.WriteConfig(kongtest.ConfigOptions{PrometheusURL: sharedProm.URL(), DatabaseExtra: "      lock_timeout: 1s"})
	c := &cluster{Cluster: kc, t: t, cfgPath: path, cfg: cfg}
	conn, err := pgx.Connect(t.Context(), kc.DSN()+"&application_name=stuck-admin-script")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	tx, err := conn.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(t.Context(), "LOCK TABLE routes IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, c, nil)
	start := time.Now()
	run, err := h.engine.Start(t.Context(), upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
	if err != nil {
		t.Fatal(err)
	}
	run = h.waitState(run.ID, long, domain.StateFailedBeforeDowntime)
	if !strings.Contains(run.Reason, "table routes is locked (AccessExclusiveLock)") || !strings.Contains(run.Reason, `"stuck-admin-script"`) {
		t.Fatalf("reason %q", run.Reason)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the run took %s to give up", took)
	}
	c.WantVersions("3.4.2")
}
