package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/internal/kongtest"
	"github.com/drawbridge/drawbridge/internal/testsvc"
)

// TestPlanCommand: "drawbridge plan" against a kongsim cluster prints the dry run and
// exits 0 when the run could go ahead, 2 when it is refused, with the hops.
func TestPlanCommand(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	c := kongtest.New(t, kongtest.Options{Nodes: 2, PG: pg})
	prom := c.StartPrometheus(t) // the watch's series must exist
	path, _ := c.WriteConfig(kongtest.ConfigOptions{PrometheusURL: prom.URL()})
	cases := []struct {
		version  string
		code     int
		contains []string
	}{
		{"3.5.0", 0, []string{"plan: upgrade test from 3.4.2 to 3.5.0", "ok       nodes answer: all 2 nodes answer 3.4.2",
			"ok       version path: 3.4.2 → 3.5.0: adjacent minor, guaranteed by Kong", "up runs 1: core:021_340_to_350",
			"ok       watch metrics: every series the watch's checks need is there",
			"3.5 (https://github.com/Kong/kong/blob/master/CHANGELOG.md#350)", "watch baseline (last 30m00s)", "the run could go ahead"}},
		{"3.6.1", exitRefused, []string{"FAIL     version path", "3.4.2 → 3.5.0 → 3.6.1", "refused: version path"}},
		{"3.4.0", exitRefused, []string{"downgrade"}},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			var out bytes.Buffer
			code := run(t.Context(), []string{"plan", "--config", path, "test", tc.version}, &out, &out)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
	c.WantVersions("3.4.2")
}

// TestPlanOnClustersPeopleRun: "drawbridge plan" on kongsim clusters that differ from the
// default the way production clusters do: judged by the plugins the nodes load, refused
// with a sentence for what drawbridge does not upgrade, and warned about hybrid mode.
func TestPlanOnClustersPeopleRun(t *testing.T) {
	pg := testsvc.StartPostgres(t)
	cpPort := testsvc.FreePort(t)
	list := map[string]string{"plugins": "key-auth,rate-limiting,prometheus"}
	cases := []struct {
		name     string
		opts     kongtest.Options
		prepare  func(c *kongtest.Cluster)
		to       string
		code     int
		contains []string
	}{
		{name: "an explicit plugins list on 3.4.2", opts: kongtest.Options{Conf: list}, to: "3.5.0", code: 0,
			contains: []string{"they load key-auth, prometheus, rate-limiting",
				"schema up to date for 3.4.2 and key-auth, prometheus, rate-limiting", "up runs 1: core:021_340_to_350", "the run could go ahead"}},
		{name: "an explicit list to 3.6.1: only the loaded plugins' migrations", opts: kongtest.Options{Conf: list, Version: "3.5.0"}, to: "3.6.1", code: 0,
			contains: []string{"core:022_350_to_360, rate-limiting:006_350_to_360"}},
		{name: "pending migrations from an earlier upgrade", opts: kongtest.Options{Version: "2.8.5", NoStart: true},
			prepare: func(c *kongtest.Cluster) {
				for _, n := range c.Nodes {
					c.Run("install", "-p", n.Prefix, "--version", "3.4.2")
				}
				c.Run("kong", "migrations", "up", "-c", c.Nodes[0].Conf) // and nobody ran finish
				for _, n := range c.Nodes {
					c.Run("kong", "start", "-c", n.Conf)
				}
			}, to: "3.5.0", code: exitRefused,
			contains: []string{"pending migrations from an earlier upgrade: core:016_280_to_300, http-log:001_280_to_300, post-function:001_280_to_300, pre-function:001_280_to_300; run 'kong migrations finish' first"}},
		{name: "nodes that load different plugins",
			opts: kongtest.Options{NodeConf: map[int]map[string]string{1: {"plugins": "acl,key-auth,rate-limiting,prometheus"}}}, to: "3.5.0", code: exitRefused,
			contains: []string{"nodes load different plugins (plugins in kong.conf): kong-1 loads every bundled plugin; kong-2 loads acl, key-auth, prometheus, rate-limiting"}},
		{name: "Kong Enterprise", opts: kongtest.Options{Version: "3.4.3.12"}, to: "3.5.0", code: exitRefused,
			contains: []string{"kong-1 runs Kong Enterprise 3.4.3.12, edition enterprise: drawbridge upgrades Kong OSS only"}},
		{name: "a DB-less node", opts: kongtest.Options{NodeConf: map[int]map[string]string{1: {"database": "off"}}}, to: "3.5.0", code: exitRefused,
			contains: []string{"kong-2 is DB-less (database = off): it keeps no database to migrate"}},
		{name: "a data plane among the nodes", opts: kongtest.Options{NodeConf: map[int]map[string]string{
			0: {"role": "control_plane", "cluster_listen": fmt.Sprintf("127.0.0.1:%d", cpPort)},
			1: {"role": "data_plane", "database": "off", "proxy_listen": "127.0.0.1:18000", "cluster_control_plane": fmt.Sprintf("127.0.0.1:%d", cpPort)}}},
			to: "3.5.0", code: exitRefused, contains: []string{"kong-2 is a data plane: it keeps no database to migrate"}},
		{name: "a pg_user that may not migrate", opts: kongtest.Options{NoStart: true},
			prepare: func(c *kongtest.Cluster) {
				role := "kong_ro_" + c.DB
				superSQL(t, c, "CREATE ROLE "+role+" LOGIN", "GRANT USAGE ON SCHEMA public TO "+role, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+role)
				for i, n := range c.Nodes {
					c.AppendConf(i, map[string]string{"pg_user": role})
					c.Run("kong", "start", "-c", n.Conf)
				}
			}, to: "3.5.0", code: exitRefused,
			contains: []string{"FAIL     database user: the nodes' pg_user cannot run the migrations: kong_ro_",
				"may not create in schema public of database", "(PostgreSQL 15 no longer grants CREATE on public to every user): GRANT CREATE ON SCHEMA public TO",
				"does not own", "of Kong's tables (acls, acme_storage"}},
		{name: "nodes in a schema drawbridge does not read", opts: kongtest.Options{Conf: map[string]string{"pg_schema": "kong_s"}}, to: "3.5.0", code: exitRefused,
			contains: []string{"the nodes keep Kong's tables in schema kong_s (pg_schema), drawbridge reads schema public: add search_path=kong_s to the database DSN"}},
		{name: "hybrid control planes", opts: kongtest.Options{Nodes: 1, NodeConf: map[int]map[string]string{
			0: {"role": "control_plane", "cluster_listen": fmt.Sprintf("127.0.0.1:%d", testsvc.FreePort(t))}}},
			to: "3.5.0", code: 0, contains: []string{"they are hybrid control planes", "warning  hybrid mode: the nodes are control planes",
				"a control plane on 3.5.0 accepts data planes of 3.x up to 3.5"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.opts.Nodes == 0 {
				tc.opts.Nodes = 2
			}
			tc.opts.PG = pg
			c := kongtest.New(t, tc.opts)
			if tc.prepare != nil {
				tc.prepare(c)
			}
			prom := c.StartPrometheus(t)
			path, _ := c.WriteConfig(kongtest.ConfigOptions{PrometheusURL: prom.URL()})
			var out bytes.Buffer
			code := run(t.Context(), []string{"plan", "--config", path, "test", tc.to}, &out, &out)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out.String())
			}
			for _, s := range tc.contains {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// superSQL runs statements on the cluster's database as the server's superuser.
func superSQL(t *testing.T, c *kongtest.Cluster, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}
