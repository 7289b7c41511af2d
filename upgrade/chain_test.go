package upgrade_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/kong"
	"github.com/drawbridge/drawbridge/storage"
	"github.com/drawbridge/drawbridge/upgrade"
)

var chainHops = []string{"3.5.0", "3.6.1", "3.7.1"}

// schemaRows is schema_meta without its timestamps: each subsystem's executed and pending
// migrations, to compare two databases.
func schemaRows(t *testing.T, c *cluster) string {
	t.Helper()
	db := c.database()
	defer db.Close()
	st, err := db.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rows := slices.Clone(st.Subsystems)
	slices.SortFunc(rows, func(a, b kong.SubsystemState) int { return strings.Compare(a.Subsystem, b.Subsystem) })
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s last=%s executed=%v pending=%v\n", r.Subsystem, r.LastExecuted, r.Executed, r.Pending)
	}
	return b.String()
}

// upgradeTo runs one whole run to version and waits until it succeeded.
func (h *harness) upgradeTo(req upgrade.StartRequest) domain.Run {
	h.t.Helper()
	ctx := h.t.Context()
	req.Cluster, req.RequestedBy = "test", "U0OPERATOR"
	run, err := h.engine.Start(ctx, req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingApproval)
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		h.t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	if _, err := h.engine.Decommission(ctx, run.ID, "U0OPERATOR"); err != nil {
		h.t.Fatal(err)
	}
	return h.waitState(run.ID, long, domain.StateSucceeded)
}

// TestChainInOneDowntime: 3.4.2 → 3.7.1 is three guaranteed hops; as a chain it runs in one
// downtime with one approval, one backup and one stop of X, rehearsed hop by hop, and
// schema_meta ends exactly as three single-hop upgrades leave it.
func TestChainInOneDowntime(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2, rehearsal: true})
	h := newHarness(t, c, nil)
	ctx := t.Context()

	if p, err := h.engine.Plan(ctx, "test", "3.7.1"); err != nil || !p.Refused || !strings.Contains(p.Reason, "--chain") {
		t.Fatalf("plan without --chain: refused %v (%s) %v", p.Refused, p.Reason, err)
	}
	p, err := h.engine.Plan(ctx, "test", "3.7.1", upgrade.AsChain)
	if err != nil || p.Refused || !slices.Equal(p.Hops, chainHops) {
		t.Fatalf("chain plan: refused %v (%s), hops %v, %v", p.Refused, p.Reason, p.Hops, err)
	}

	startsBefore := c.CommandCount("start") // the nodes' first start, by the test
	run := h.upgradeTo(upgrade.StartRequest{To: "3.7.1", Chain: true})
	c.WantVersions("3.7.1")
	if !slices.Equal(run.Facts.Hops, chainHops) || run.Facts.HopsDone != 3 {
		t.Errorf("hops %v, done %d", run.Facts.Hops, run.Facts.HopsDone)
	}
	if rh := run.Facts.Rehearsal; rh == nil || len(rh.Hops) != 3 {
		t.Errorf("rehearsal %+v: want each hop rehearsed", rh)
	}
	if n := c.CommandCount("stop"); n != 2 {
		t.Errorf("%d kong stop commands, want one per node", n)
	}
	if n := c.CommandCount("start") - startsBefore; n != 2 {
		t.Errorf("%d kong start commands, want one per node", n)
	}
	for _, cmd := range []string{"migrations up", "migrations finish"} {
		if n := c.CommandCount(cmd); n != 3 {
			t.Errorf("kong %s ran %d times, want once per hop", cmd, n)
		}
	}
	aps, _ := h.store.Approvals(ctx, run.ID)
	if len(aps) != 1 {
		t.Errorf("%d approvals", len(aps))
	}
	dumps, _ := filepath.Glob(filepath.Join(c.cfg.BackupDir, "test", "*.dump"))
	if len(dumps) != 1 {
		t.Errorf("backups %v, want one", dumps)
	}
	var notices []string
	h.mu.Lock()
	for _, e := range h.events {
		if e.Kind == domain.EventNotice && strings.HasPrefix(e.Message, "Chain: ") {
			notices = append(notices, e.Message)
		}
	}
	h.mu.Unlock()
	if len(notices) != 3 {
		t.Errorf("chain notices %q", notices)
	}
	if m := run.Facts.Measured.Parts; m == nil || m.Install == 0 {
		t.Errorf("measured parts %+v", m)
	}

	// The same three hops as three runs, on a cluster of its own.
	c2 := newCluster(t, clusterOpts{nodes: 1})
	h2 := newHarness(t, c2, nil)
	for _, v := range chainHops {
		h2.upgradeTo(upgrade.StartRequest{To: v})
	}
	if got, want := schemaRows(t, c), schemaRows(t, c2); got != want {
		t.Fatalf("schema_meta after the chain:\n%s\nafter three runs:\n%s", got, want)
	}
}

// TestChainKilledMidway: drawbridge is killed with SIGKILL inside the chain, right after
// its first hop was migrated. After the restart the run resumes, passes over the hop that
// is done, migrates the others once each and succeeds.
func TestChainKilledMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("kills an engine")
	}
	c := newCluster(t, clusterOpts{rehearsal: true})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+c.cfgPath, helperChainEnv+"=3.7.1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	killed := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			l := sc.Text()
			log.WriteString(l + "\n")
			if strings.HasPrefix(l, "notice Chain: hop 1 of 3") {
				_ = cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				return
			}
			fmt.Fprintln(stdin, "go")
		}
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("no progress:\n%s\n%s", log.String(), stderr.String())
	}
	_ = cmd.Wait()
	if !killed {
		t.Fatalf("the engine was not killed in the chain:\n%s\n%s", log.String(), stderr.String())
	}
	final := runHelperToEnd(t, c)
	t.Logf("before the kill:\n%safter:\n%s", log.String(), final)
	if !strings.Contains(final, "end succeeded") {
		t.Fatalf("the run did not succeed:\n%s", final)
	}
	c.WantVersions("3.7.1")
	for _, cmd := range []string{"migrations up", "migrations finish"} {
		if n := c.CommandCount(cmd); n != 3 {
			t.Errorf("kong %s ran %d times, want once per hop", cmd, n)
		}
	}
	store, err := storage.Open(c.cfg.StateFile, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	run, err := store.GetRun(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if run.Facts.HopsDone != 3 {
		t.Errorf("hops done %d", run.Facts.HopsDone)
	}
	steps, _ := store.Steps(t.Context(), 1)
	for _, s := range steps {
		if s.Name == "migrations_up" && (s.Attempt != 2 || !strings.Contains(s.OutputTail, "hop 1 of 3 (3.4.2 → 3.5.0): schema_meta shows its migrations done")) {
			t.Errorf("migrations_up attempt %d did not pass over the done hop:\n%s", s.Attempt, s.OutputTail)
		}
	}
}

// TestChainFailsMidwayRollsBack: the second hop's migration fails during the downtime; the
// run needs attention, says which hop, and Roll back restores X from the one backup.
func TestChainFailsMidwayRollsBack(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2})
	h := newHarness(t, c, nil)
	ctx := t.Context()
	before := schemaRows(t, c)
	run, err := h.engine.Start(ctx, upgrade.StartRequest{Cluster: "test", To: "3.7.1", RequestedBy: "U0OPERATOR", Chain: true})
	if err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingApproval)
	c.Set([]string{"faults.migration_fail=022_350_to_360"}) // after the gate opened: not rehearsed, so unseen before
	if _, err := h.engine.Approve(ctx, run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	run = h.waitState(run.ID, long, domain.StateNeedsAttention)
	if !strings.Contains(run.Reason, "hop 2 of 3 (3.5.0 → 3.6.1)") || !strings.Contains(run.Reason, "022_350_to_360") || run.Facts.HopsDone != 1 {
		t.Fatalf("reason %q, hops done %d", run.Reason, run.Facts.HopsDone)
	}
	c.Set([]string{"faults.migration_fail="})
	if _, err := h.engine.Rollback(ctx, run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateRolledBack)
	c.WantVersions("3.4.2")
	if after := schemaRows(t, c); after != before {
		t.Fatalf("schema_meta after the rollback:\n%s\nbefore the run:\n%s", after, before)
	}
}
