package bot_test

import (
	"cmp"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/domain"
	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/jackc/pgx/v5"
)

// TestClustersPeopleRunInSlack: what a person in the channel sees when a cluster differs
// from a plain 3.4.2 one in the ways Kong users report: each refusal or failure says what
// Kong did in Kong's terms, and the buttons offered fit what is left to do.
func TestClustersPeopleRunInSlack(t *testing.T) {
	t.Parallel()
	customX := func(c *kongtest.Cluster) {
		for _, n := range c.Nodes {
			c.Run("install", "-p", n.Prefix, "--plugin", "custom-x@3.4.2")
			c.Run("kong", "start", "-c", n.Conf)
		}
	}
	cases := []struct {
		name string
		to   string // Y; default 3.5.0
		opts func(t *testing.T) worldOpts
		// play drives the run from "start test 3.5.0" on and checks what the channel shows.
		play func(t *testing.T, w *world)
	}{
		{
			name: "nodes load different plugins",
			opts: func(*testing.T) worldOpts {
				return worldOpts{nodeConf: map[int]map[string]string{1: {"plugins": "key-auth,rate-limiting,prometheus"}}}
			},
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "nodes load different plugins (plugins in kong.conf)")
				w.waitStatus(1, "kong-2 loads key-auth, prometheus, rate-limiting")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
				w.c.WantVersions("3.4.2")
			},
		},
		{
			name: "Kong Enterprise",
			opts: func(*testing.T) worldOpts { return worldOpts{version: "3.4.3.12"} },
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "runs Kong Enterprise 3.4.3.12")
				w.waitStatus(1, "drawbridge upgrades Kong OSS only")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
			},
		},
		{
			name: "another node takes the migrations lock",
			opts: func(*testing.T) worldOpts { return worldOpts{} },
			play: func(t *testing.T, w *world) {
				approve := w.waitButton("approve")
				w.c.Set([]string{"faults.lock_race=2s"}, 0)
				w.click("U0APPROVER", "approve", approve, "")
				w.waitRun(1, domain.StateNeedsAttention)
				w.waitThread(1, "another node held Kong's migrations lock")
				w.waitStatus(1, "find it, let it end, then Resume")
				resume := w.waitButton("resume")
				w.c.Set([]string{"faults.lock_race="}, 0)
				w.click("U0OPERATOR", "resume", resume, "")
				w.waitRun(1, domain.StateAwaitingDecommission)
				w.c.WantVersions("3.5.0")
			},
		},
		{
			name: "a custom plugin missing on Y",
			opts: func(*testing.T) worldOpts {
				return worldOpts{kongConf: map[string]string{"plugins": "bundled,custom-x"}, prepare: customX}
			},
			play: func(t *testing.T, w *world) {
				w.click("U0APPROVER", "approve", w.waitButton("approve"), "")
				w.waitRun(1, domain.StateNeedsAttention)
				w.waitThread(1, "custom-x plugin is enabled but not installed")
				rollback := w.waitButton("rollback")
				w.click("U0OPERATOR", "rollback", rollback, "")
				w.waitRun(1, domain.StateRolledBack)
				w.c.WantVersions("3.4.2")
			},
		},
		{
			name: "hybrid control planes",
			opts: func(t *testing.T) worldOpts {
				cp := func() map[string]string {
					return map[string]string{"role": "control_plane", "cluster_listen": fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))}
				}
				return worldOpts{nodeConf: map[int]map[string]string{0: cp(), 1: cp()}, promWatch: true, watch: 8 * time.Second, interval: 2 * time.Second}
			},
			play: func(t *testing.T, w *world) {
				approve := w.waitButton("approve")
				w.waitStatus(1, "the nodes are control planes: their data planes are not upgraded by this run")
				w.click("U0APPROVER", "approve", approve, "")
				w.waitThread(1, "data planes compatible")
				w.waitRun(1, domain.StateAwaitingDecommission)
				w.c.WantVersions("3.5.0")
			},
		},
		{
			name: "a DB-less node",
			opts: func(*testing.T) worldOpts {
				return worldOpts{nodeConf: map[int]map[string]string{1: {"database": "off"}}}
			},
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "kong-2 is DB-less (database = off): it keeps no database to migrate")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
				if v := w.c.Versions()[0]; v != "3.4.2" {
					t.Errorf("kong-1 answers %s after the refusal, want 3.4.2", v)
				}
			},
		},
		{
			name: "a data plane among the nodes",
			opts: func(t *testing.T) worldOpts {
				cp := fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))
				return worldOpts{nodeConf: map[int]map[string]string{
					0: {"role": "control_plane", "cluster_listen": cp},
					1: {"role": "data_plane", "database": "off", "proxy_listen": fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t)), "cluster_control_plane": cp}}}
			},
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "kong-2 is a data plane: it keeps no database to migrate")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
			},
		},
		{
			name: "a pg_user that may not migrate",
			opts: func(t *testing.T) worldOpts {
				return worldOpts{prepare: func(c *kongtest.Cluster) {
					role := "kong_ro_" + c.DB
					conn, err := pgx.Connect(t.Context(), c.DSN())
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close(context.Background())
					for _, q := range []string{"CREATE ROLE " + role + " LOGIN", "GRANT USAGE ON SCHEMA public TO " + role, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + role} {
						if _, err := conn.Exec(t.Context(), q); err != nil {
							t.Fatalf("%s: %v", q, err)
						}
					}
					for i, n := range c.Nodes {
						c.AppendConf(i, map[string]string{"pg_user": role})
						c.Run("kong", "start", "-c", n.Conf)
					}
				}}
			},
			play: func(t *testing.T, w *world) {
				w.waitStatus(1, "the nodes' pg_user cannot run the migrations: kong_ro_")
				w.waitStatus(1, "GRANT CREATE ON SCHEMA public TO")
				w.waitRun(1, domain.StateFailedBeforeDowntime)
				w.c.WantVersions("3.4.2")
			},
		},
		{
			name: "a migrations up that fails part-way, resumed",
			to:   "3.6.1",
			opts: func(*testing.T) worldOpts { return worldOpts{version: "3.5.0"} },
			play: func(t *testing.T, w *world) {
				approve := w.waitButton("approve")
				w.c.Set([]string{"faults.migration_fail=rate-limiting:006_350_to_360"}, 0)
				w.click("U0APPROVER", "approve", approve, "")
				w.waitRun(1, domain.StateNeedsAttention)
				w.waitStatus(1, "kong migrations up failed: migrations_up on kong-1")
				w.waitStatus(1, "schema_meta: executed core:022_350_to_360, acme:003_350_to_360; pending opentelemetry:001_331_to_332; still new rate-limiting:006_350_to_360")
				resume := w.waitButton("resume")
				w.c.Set([]string{"faults.migration_fail="}, 0)
				w.click("U0OPERATOR", "resume", resume, "")
				w.waitRun(1, domain.StateAwaitingDecommission)
				w.waitThread(1, "Kong's migrations are part-way (schema_meta: executed core:022_350_to_360, acme:003_350_to_360; pending opentelemetry:001_331_to_332; still new rate-limiting:006_350_to_360, response-ratelimiting:001_350_to_360): running kong migrations finish")
				// The second attempt's long output is cut to its end; what drawbridge decided
				// at its beginning is shown apart.
				w.waitThread(1, "drawbridge said, above the end of the output")
				w.c.WantVersions("3.6.1")
			},
		},
		{
			name: "a migration that outlasts pg_timeout on 3.7",
			to:   "3.7.1",
			opts: func(*testing.T) worldOpts { return worldOpts{version: "3.6.1", nodes: 1} },
			play: func(t *testing.T, w *world) {
				w.command("U0OPERATOR", channel, "plan test 3.7.1")
				w.ephemeralMatching("U0OPERATOR", `migrations timeout: migrations_finish and migrations_up do not pass --db-timeout`)
				approve := w.waitButton("approve")
				w.c.Set([]string{"faults.migration_delay=core:023_360_to_370=6s"}, 0)
				w.click("U0APPROVER", "approve", approve, "")
				w.waitRun(1, domain.StateNeedsAttention)
				w.waitStatus(1, "a timeout: from 3.7 Kong applies pg_timeout, 5 s by default")
				w.waitStatus(1, "add --db-timeout 600 (seconds) to the migrations commands")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, tc.opts(t))
			to := cmp.Or(tc.to, "3.5.0")
			if r := w.command("U0OPERATOR", channel, "start test "+to); r.status != 200 {
				t.Fatalf("start: %d %s", r.status, r.text)
			}
			tc.play(t, w)
		})
	}
}
