package upgrade_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/upgrade"
)

// commandLog is kongsim's log of kong commands on node i.
func (c *cluster) commandLog(i int) string {
	b, _ := os.ReadFile(filepath.Join(c.Nodes[i].Prefix, "logs", "kongsim-commands.log"))
	return string(b)
}

// TestLoadedPluginsAndForce: a cluster loading an explicit plugins list is upgraded 3.6.1 →
// 3.7.1. Only the loaded plugins' migrations are planned and checked; ai-proxy, loaded and
// new to the database in 3.7, makes "up" run with -f; "finish" runs plain although its
// command template has {{if .Force}}-f{{end}} too.
func TestLoadedPluginsAndForce(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2, version: "3.6.1", kongConf: map[string]string{"plugins": "key-auth,rate-limiting,prometheus,ai-proxy"}})
	h := newHarness(t, c, nil)
	run := h.startToGate("3.7.1")
	steps := h.steps(run.ID)
	if d := checkDetail(steps["preflight"], "nodes answer"); !strings.Contains(d, "they load ai-proxy, key-auth, prometheus, rate-limiting") {
		t.Errorf("preflight: %q", d)
	}
	ev := steps["evaluate"]
	if e := ev.Facts.Evaluation; e == nil || !slices.Equal(e.NewPlugins, []string{"ai-proxy"}) || !e.Force {
		t.Errorf("evaluate: %+v; want new plugins ai-proxy, force", e)
	}
	if !strings.Contains(ev.OutputTail, "migrations up runs 2 migrations: core:023_360_to_370, ai-proxy:001_360_to_370") {
		t.Errorf("evaluate output:\n%s", ev.OutputTail)
	}
	if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	c.WantVersions("3.7.1")
	var up, finish string
	for _, l := range strings.Split(c.commandLog(0), "\n") {
		switch {
		case strings.Contains(l, "kong migrations up"):
			up = l
		case strings.Contains(l, "kong migrations finish"):
			finish = l
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(up), " -f") {
		t.Errorf("migrations up without -f: %q", up)
	}
	if finish == "" || strings.Contains(finish, " -f") {
		t.Errorf("migrations finish: %q, want it run plain", finish)
	}
	if _, err := h.engine.Decommission(t.Context(), run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateSucceeded)
}

// TestHalfDoneUpConverges: 3.5.0 → 3.6.1 with rate-limiting's migration failing part-way
// (the report: after Resume both nodes stayed down). The failure names what is executed,
// pending and still new; after the cause is fixed, Resume finishes what up left pending
// (Kong refuses up while anything is pending), runs up for the rest and goes on. A database
// a person already fixed by hand is accepted without running anything.
func TestHalfDoneUpConverges(t *testing.T) {
	t.Parallel()
	for _, byHand := range []bool{false, true} {
		name := "Resume converges"
		if byHand {
			name = "fixed by hand, then Resume"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, clusterOpts{nodes: 2, version: "3.5.0"})
			h := newHarness(t, c, nil)
			c.Set([]string{"faults.migration_fail=rate-limiting:006_350_to_360"}, 0)
			run := h.startToGate("3.6.1")
			if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
				t.Fatal(err)
			}
			failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
			for _, want := range []string{"kong migrations up failed", "executed core:022_350_to_360, acme:003_350_to_360",
				"pending opentelemetry:001_331_to_332", "still new rate-limiting:006_350_to_360, response-ratelimiting:001_350_to_360"} {
				if !strings.Contains(failed.Reason, want) {
					t.Errorf("reason lacks %q:\n%s", want, failed.Reason)
				}
			}
			c.Set([]string{"faults.migration_fail="}, 0)
			if byHand {
				c.Run("kong", "migrations", "finish", "-c", c.Nodes[0].Conf)
				c.Run("kong", "migrations", "up", "-c", c.Nodes[0].Conf)
			}
			before := c.CommandCount("migrations")
			if _, err := h.engine.Resume(t.Context(), run.ID, "U0OPERATOR"); err != nil {
				t.Fatal(err)
			}
			h.waitState(run.ID, long, domain.StateAwaitingDecommission)
			c.WantVersions("3.6.1")
			up := h.steps(run.ID)["migrations_up"]
			if byHand {
				if !strings.Contains(up.OutputTail, "schema_meta already holds what this step does") {
					t.Errorf("migrations up after a fix by hand:\n%s", up.OutputTail)
				}
			} else if !strings.Contains(up.OutputTail, "still new rate-limiting:006_350_to_360, response-ratelimiting:001_350_to_360: running kong migrations finish") ||
				!strings.Contains(up.OutputTail, "running kong migrations up") {
				t.Errorf("migrations up on Resume:\n%s", up.OutputTail)
			}
			// Resume: finish, up, and the finish step's runbook finish. By hand: the person
			// ran finish and up (before the count); drawbridge runs only the finish step's.
			want := 3
			if byHand {
				want = 1
			}
			if got := c.CommandCount("migrations") - before; got != want {
				t.Errorf("%d kong migrations commands after the failure, want %d", got, want)
			}
		})
	}
}

// TestMigrationsLockHeld: another kong migrations command holds Kong's lock when the
// downtime begins. drawbridge reports its owner and expiry, waits for it, and then runs up.
func TestMigrationsLockHeld(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1})
	h := newHarness(t, c, nil)
	run := h.startToGate("3.5.0")
	execSQL(t, c, `INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'other-node', now() + interval '3 seconds')`)
	if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	up := h.steps(run.ID)["migrations_up"]
	for _, want := range []string{"Kong's migrations lock is held by node other-node until", "Kong's migrations lock is free", "core migrated up to: 021_340_to_350"} {
		if !strings.Contains(up.OutputTail, want) {
			t.Errorf("migrations up output lacks %q:\n%s", want, up.OutputTail)
		}
	}
}

// TestMigrationsTimeoutOn37: upgrading to 3.7.1 with migrations commands that do not pass
// --db-timeout: the plan warns; a migration slower than pg_timeout (5 s) times out, and the
// failure says it is a timeout and what to add.
func TestMigrationsTimeoutOn37(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1, version: "3.6.1"})
	h := newHarness(t, c, nil)
	p, err := h.engine.Plan(t.Context(), "test", "3.7.1")
	if err != nil {
		t.Fatal(err)
	}
	var warned bool
	for _, ch := range p.Checks {
		warned = warned || ch.Name == "migrations timeout" && ch.Warning && strings.Contains(ch.Detail, "migrations_finish and migrations_up do not pass --db-timeout")
	}
	if !warned {
		t.Errorf("the plan does not warn about --db-timeout: %+v", p.Checks)
	}
	c.Set([]string{"faults.migration_delay=core:023_360_to_370=6s"}, 0)
	run := h.startToGate("3.7.1")
	if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
	for _, want := range []string{"receive_message: failed to get type: timeout", "a timeout: from 3.7 Kong applies pg_timeout", "add --db-timeout 600", "still new core:023_360_to_370"} {
		if !strings.Contains(failed.Reason, want) {
			t.Errorf("reason lacks %q:\n%s", want, failed.Reason)
		}
	}
}

// TestCustomPluginMissingOnY: the nodes load custom-x, installed for 3.4.2 only (an image
// built for one version). Without a check, Y's start fails with Kong's own message and the
// run waits with Rollback offered, which restores X. With commands.check, the run fails
// before any downtime.
func TestCustomPluginMissingOnY(t *testing.T) {
	t.Parallel()
	prepare := func(kc *kongtest.Cluster) {
		for _, n := range kc.Nodes {
			kc.Run("install", "-p", n.Prefix, "--plugin", "custom-x@3.4.2")
			kc.Run("kong", "start", "-c", n.Conf)
		}
	}
	conf := map[string]string{"plugins": "bundled,custom-x"}
	t.Run("found at start, rolled back", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, clusterOpts{nodes: 2, kongConf: conf, prepare: prepare})
		h := newHarness(t, c, nil)
		run := h.startToGate("3.5.0")
		if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
			t.Fatal(err)
		}
		failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
		if !strings.Contains(failed.Reason, "custom-x plugin is enabled but not installed") {
			t.Errorf("reason does not carry Kong's message: %s", failed.Reason)
		}
		if _, err := h.engine.Rollback(t.Context(), run.ID, "U0OPERATOR"); err != nil {
			t.Fatal(err)
		}
		h.waitState(run.ID, long, domain.StateRolledBack)
		c.WantVersions("3.4.2")
	})
	t.Run("found by the check, before the downtime", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, clusterOpts{nodes: 2, kongConf: conf, prepare: prepare,
			check: `["` + kongtest.Kongsim(t) + `", plugins, -p, "{{.Node.Vars.prefix}}", --version, "{{.Version}}", --require, custom-x]`})
		h := newHarness(t, c, nil)
		run, err := h.engine.Start(t.Context(), upgrade.StartRequest{Cluster: "test", To: "3.5.0", RequestedBy: "U0OPERATOR"})
		if err != nil {
			t.Fatal(err)
		}
		failed := h.waitState(run.ID, long, domain.StateFailedBeforeDowntime)
		if !strings.Contains(failed.Reason, "the check of 3.5.0 failed") || !strings.Contains(failed.Reason, "custom-x is not installed for Kong 3.5.0") {
			t.Errorf("reason %s", failed.Reason)
		}
		if !failed.DowntimeStart.IsZero() {
			t.Error("the failed check had downtime")
		}
		c.WantVersions("3.4.2")
	})
}

// TestMigrationsLockRace: another node takes Kong's lock between drawbridge's look at it
// and kong migrations up (kongsim's lock_race fault). Kong's up waits for it, then exits 0
// having done nothing; drawbridge names that instead of going on, and Resume, with the
// other node gone, runs up and carries on.
func TestMigrationsLockRace(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 1})
	h := newHarness(t, c, nil)
	run := h.startToGate("3.5.0")
	c.Set([]string{"faults.lock_race=2s"}, 0)
	if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	failed := h.waitState(run.ID, long, domain.StateNeedsAttention)
	for _, want := range []string{"kong migrations up did nothing: another node held Kong's migrations lock", "find it, let it end, then Resume", "still new core:021_340_to_350"} {
		if !strings.Contains(failed.Reason, want) {
			t.Errorf("reason lacks %q:\n%s", want, failed.Reason)
		}
	}
	c.Set([]string{"faults.lock_race="}, 0)
	if _, err := h.engine.Resume(t.Context(), run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	c.WantVersions("3.5.0")
}

// TestPGSchemaUpgradeAndRollback: the nodes keep Kong's tables in schema kong_s
// (pg_schema) and drawbridge's DSN says search_path=kong_s. The upgrade reads and checks
// schema_meta there, the rollback restores it there, and nothing of Kong's lands in public.
func TestPGSchemaUpgradeAndRollback(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{nodes: 2, kongConf: map[string]string{"pg_schema": "kong_s"}, searchPath: "kong_s"})
	h := newHarness(t, c, nil)
	db := c.database()
	defer db.Close()
	before, err := db.Fingerprint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	schemaBefore, err := db.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	run := h.startToGate("3.5.0")
	if _, err := h.engine.Approve(t.Context(), run.ID, "U0APPROVER"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateAwaitingDecommission)
	c.WantVersions("3.5.0")
	if up := h.steps(run.ID)["migrations_up"]; !strings.Contains(up.OutputTail, "core migrated up to: 021_340_to_350") {
		t.Errorf("migrations up:\n%s", up.OutputTail)
	}
	if _, err := h.engine.Rollback(t.Context(), run.ID, "U0OPERATOR"); err != nil {
		t.Fatal(err)
	}
	h.waitState(run.ID, long, domain.StateRolledBack)
	c.WantVersions("3.4.2")
	db2 := c.database()
	defer db2.Close()
	after, err := db2.Fingerprint(t.Context())
	if err != nil || !after.Equal(before) {
		t.Errorf("fingerprint after rollback differs: %v %v", after.Diff(before), err)
	}
	schemaAfter, err := db2.Schema(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schemaString(schemaAfter), schemaString(schemaBefore); got != want {
		t.Errorf("schema_meta after rollback:\n%s\nwant:\n%s", got, want)
	}
	conn, err := pgx.Connect(t.Context(), c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var inPublic int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&inPublic); err != nil {
		t.Fatal(err)
	}
	if inPublic != 0 {
		t.Errorf("%d tables in schema public; Kong's belong in kong_s", inPublic)
	}
}

// checkDetail is the verdict and detail of one preflight check ("ok: …"), "" without it.
func checkDetail(preflight domain.StepRecord, name string) string {
	for _, c := range preflight.Facts.Checks {
		if c.Name == name {
			return c.Verdict + ": " + c.Detail
		}
	}
	return ""
}
