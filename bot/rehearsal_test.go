package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/slackfake"
)

// blocksText is every text of a message's blocks, as sent.
func blocksText(m slackfake.Message) string { return m.Text + "\n" + m.BlocksJSON }

// threadText is the status message and its replies, as sent.
func (w *world) threadText() string {
	m, _ := w.statusMessage()
	all := blocksText(m)
	for _, r := range m.Replies {
		all += "\n" + blocksText(r)
	}
	return all
}

// scratchDatabases lists the rehearsal copies on the cluster's PostgreSQL server.
func scratchDatabases(t *testing.T, c *kongtest.Cluster) []string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.PG.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(t.Context(), `SELECT datname FROM pg_database WHERE datname LIKE '%\_rehearsal\_%' AND starts_with(datname, $1)`, c.DB)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestRehearsalFailsBeforeDowntime: Y's migration fails on this database; the rehearsal on
// a copy finds it before the gate, X serves throughout, the thread shows Kong's error, and
// the copy is gone.
func TestRehearsalFailsBeforeDowntime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{rehearsal: true})
	w.c.Set([]string{"faults.migration_fail=021_340_to_350"})

	if r := w.command("U0OPERATOR", channel, "start test 3.5.0"); r.status != 200 {
		t.Fatalf("start answered %d %q", r.status, r.text)
	}
	run := w.waitRun(1, domain.StateFailedBeforeDowntime)
	if !strings.Contains(run.Reason, "rehearse migrations on a copy failed") || !strings.Contains(run.Reason, "before any downtime") {
		t.Errorf("reason %q", run.Reason)
	}
	if n := w.c.CommandCount("stop"); n != 0 {
		t.Fatalf("%d kong stop commands: X did not serve throughout", n)
	}
	w.c.WantVersions("3.4.2")
	w.waitFor("Kong's error in the thread", func() bool {
		return strings.Contains(w.threadText(), "failed to run migration '021_340_to_350' up")
	})
	if dbs := scratchDatabases(t, w.c); len(dbs) > 0 {
		t.Fatalf("scratch databases remain: %v", dbs)
	}
	steps, err := w.store.Steps(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if domain.StepID(s.Index) == domain.StepApproval || domain.StepID(s.Index) == domain.StepStop {
			t.Errorf("step %s ran after a failed rehearsal", s.Name)
		}
	}
}

// TestRehearsalPredictsDowntime: a healthy Y is rehearsed; the gate shows the rehearsal's
// times and the predicted downtime, and the summary sets predicted against measured.
func TestRehearsalPredictsDowntime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{rehearsal: true})
	w.c.Set([]string{"faults.migration_delay=300ms"})

	if r := w.command("U0OPERATOR", channel, "start test 3.5.0"); r.status != 200 {
		t.Fatalf("start answered %d %q", r.status, r.text)
	}
	approve := w.waitButton("approve")
	m, _ := w.statusMessage()
	gate := blocksText(m)
	for _, want := range []string{"*Rehearsal:* ✅ on a copy of the database: restore", "*Predicted downtime*", "up and finish as rehearsed on a copy"} {
		if !strings.Contains(gate, want) {
			t.Errorf("the gate lacks %q:\n%s", want, gate)
		}
	}
	if dbs := scratchDatabases(t, w.c); len(dbs) > 0 {
		t.Fatalf("scratch databases remain after the rehearsal: %v", dbs)
	}
	run, err := w.store.GetRun(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	rh, p := run.Facts.Rehearsal, run.Facts.Prediction
	if rh == nil || p == nil || p.Migrations != "rehearsal" || p.Up != rh.Up || rh.Up < 300e6 {
		t.Fatalf("rehearsal %+v prediction %+v", rh, p)
	}
	if n := w.c.CommandCount("stop"); n != 0 {
		t.Fatalf("%d kong stop commands before the approval", n)
	}
	w.click("U0APPROVER", "approve", approve, "")
	w.click("U0OPERATOR", "decommission", w.waitButton("decommission"), "")
	run = w.waitRun(1, domain.StateSucceeded)
	w.c.WantVersions("3.5.0")
	if run.Facts.Measured.Parts == nil || run.Facts.Measured.Parts.Up < 300e6 {
		t.Fatalf("measured parts %+v", run.Facts.Measured.Parts)
	}
	w.waitFor("predicted against measured in the summary", func() bool {
		return strings.Contains(w.threadText(), "Predicted against measured")
	})
}

// TestChainFromSlack: "start test 3.7.1 --chain" goes through 3.5.0 and 3.6.1 in one
// downtime with one approval; the status message shows the hops and where the chain is.
func TestChainFromSlack(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOpts{rehearsal: true})
	if r := w.command("U0OPERATOR", channel, "start test 3.7.1"); r.status != 200 {
		t.Fatalf("start answered %d %q", r.status, r.text)
	}
	run := w.waitRun(1, domain.StateFailedBeforeDowntime)
	if !strings.Contains(run.Reason, "--chain") {
		t.Errorf("a jump of three hops without --chain: %q", run.Reason)
	}
	if r := w.command("U0OPERATOR", channel, "start test 3.7.1 --chain"); r.status != 200 {
		t.Fatalf("start --chain answered %d %q", r.status, r.text)
	}
	w.waitRun(2, domain.StateAwaitingApproval)
	approve := ""
	w.waitFor("run 2's gate with its chain", func() bool {
		m, _ := w.statusOf(2)
		approve = buttonValue(m.Blocks, "approve")
		return approve != "" && strings.Contains(m.BlocksJSON, "3.4.2 → 3.5.0 → 3.6.1 → 3.7.1") && strings.Contains(m.BlocksJSON, "0 of 3 hops migrated")
	})
	w.click("U0APPROVER", "approve", approve, "")
	w.waitRun(2, domain.StateAwaitingDecommission)
	w.c.WantVersions("3.7.1")
	w.waitFor("the chain done on the status message", func() bool {
		m, _ := w.statusOf(2)
		return strings.Contains(m.BlocksJSON, "3 of 3 hops migrated")
	})
	if n := w.c.CommandCount("stop"); n != 2 {
		t.Errorf("%d kong stop commands, want one per node", n)
	}
}
