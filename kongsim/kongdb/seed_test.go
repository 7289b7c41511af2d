package kongdb

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kongsim/kconf"
)

var seedSize = SeedOptions{Services: 3, RoutesPerService: 2, PluginsPerService: 4, Consumers: 2, Upstreams: 2, TargetsPerUpstream: 2, Prometheus: true}

func TestSeedRefusesUnbootstrapped(t *testing.T) {
	t.Parallel()
	if _, err := Seed(t.Context(), open(t, newConf(t)), seedSize); !errors.Is(err, ErrNotBootstrapped) {
		t.Errorf("err = %v", err)
	}
}

func TestSeedValidates(t *testing.T) {
	t.Parallel()
	for _, o := range []SeedOptions{{Services: -1}, {PluginsPerService: len(ServicePlugins) + 1}} {
		if err := o.validate(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func paths(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT name || ' ' || array_to_string(paths, ',') FROM routes ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Seeded at 2.8.5, regex paths have no "~"; 016_280_to_300's up adds it, as a rollback must
// undo; finish fills targets.cache_key; 3.6's finish rewrites rate-limiting's Redis settings.
func TestSeedThroughUpgrade(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	conn := raw(t, c)
	res, err := Seed(t.Context(), open(t, c), seedSize)
	if err != nil {
		t.Fatal(err)
	}
	want := SeedResult{WorkspaceID: res.WorkspaceID, Services: 3, Routes: 6, RegexRoutes: 3, Plugins: 13, Consumers: 2, Credentials: 2, Upstreams: 2, Targets: 4}
	if res != want || len(res.WorkspaceID) != 36 {
		t.Errorf("result %+v", res)
	}
	if got := res.String(); got != "3 services, 6 routes (3 regex), 13 plugins, 2 consumers (2 credentials), 2 upstreams, 4 targets" {
		t.Errorf("String() = %q", got)
	}
	before := paths(t, conn)
	if before[1] != `svc-001-route-2 /svc-001/v2/items/(?<id>\d+)$` || before[0] != "svc-001-route-1 /svc-001/v1" {
		t.Errorf("2.8 paths %v", before)
	}

	must(t, c, "3.4.2", "up", Options{})
	after := paths(t, conn)
	for i := range before {
		regex := strings.Contains(before[i], "items")
		name, p, _ := strings.Cut(before[i], " ")
		if want := name + " " + map[bool]string{true: "~", false: ""}[regex] + p; after[i] != want {
			t.Errorf("after up: %q, want %q", after[i], want)
		}
	}
	var nullKeys int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM targets WHERE cache_key IS NULL`).Scan(&nullKeys); err != nil || nullKeys != 4 {
		t.Errorf("targets without cache_key before finish: %d (%v)", nullKeys, err)
	}
	must(t, c, "3.4.2", "finish", Options{})
	var key string
	if err := conn.QueryRow(t.Context(), `SELECT cache_key FROM targets ORDER BY target LIMIT 1`).Scan(&key); err != nil ||
		!strings.HasPrefix(key, "targets:") || !strings.HasSuffix(key, ":10.1.1.1:8080::::"+res.WorkspaceID) {
		t.Errorf("target cache_key %q (%v)", key, err)
	}

	rl := func() map[string]any {
		var cfg map[string]any
		if err := conn.QueryRow(t.Context(), `SELECT config FROM plugins WHERE name = 'rate-limiting' ORDER BY id LIMIT 1`).Scan(&cfg); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// 3.6's module of rate-limiting's 006_350_to_360 has no teardown (3.7's has): its up
	// moves the redis_* keys into redis at once.
	must(t, c, "3.6.1", "up", Options{})
	if cfg := rl(); cfg["redis_port"] != nil || cfg["redis"].(map[string]any)["port"] != float64(6379) {
		t.Errorf("rate-limiting after 3.6 up: %v", cfg)
	}
	must(t, c, "3.6.1", "finish", Options{})
	if cfg := rl(); cfg["redis_port"] != nil || cfg["redis"].(map[string]any)["port"] != float64(6379) || cfg["minute"] != float64(600) {
		t.Errorf("rate-limiting after 3.6 finish: %v", cfg)
	}

	var prom map[string]any
	if err := conn.QueryRow(t.Context(), `SELECT config FROM plugins WHERE name = 'prometheus' AND service_id IS NULL AND route_id IS NULL AND consumer_id IS NULL`).Scan(&prom); err != nil {
		t.Fatal(err)
	}
	// Seeded as 2.8's Admin API writes it, the config has per_consumer only; no migration
	// touches it, so after the upgrade to 3.x the flags are absent (false) until someone
	// sets them, as in Kong.
	if len(prom) != 1 || prom["per_consumer"] != false {
		t.Errorf("prometheus config after 2.8.5 → 3.6.1: %v, want 2.8's {per_consumer: false}", prom)
	}
}

// TestSeedPrometheusConfigPerVersion: the global prometheus plugin is written as each
// version's schema has it (kong/plugins/prometheus/schema.lua).
func TestSeedPrometheusConfigPerVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ version, want string }{
		{"2.8.5", `{"per_consumer": false}`},
		{"3.4.2", `{"per_consumer": false, "bandwidth_metrics": true, "latency_metrics": true, "status_code_metrics": true, "upstream_health_metrics": true}`},
		{"3.8.1", `{"ai_metrics": false, "per_consumer": false, "bandwidth_metrics": true, "latency_metrics": true, "status_code_metrics": true, "upstream_health_metrics": true}`},
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			c := newConf(t)
			must(t, c, tc.version, "bootstrap", Options{})
			if _, err := Seed(t.Context(), open(t, c), SeedOptions{Services: 1, Prometheus: true, Version: tc.version}); err != nil {
				t.Fatal(err)
			}
			var got string
			if err := raw(t, c).QueryRow(t.Context(), `SELECT config::text FROM plugins WHERE name = 'prometheus'`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if canon(t, got) != canon(t, tc.want) {
				t.Errorf("config %s, want %s", got, tc.want)
			}
		})
	}
}

// dump renders the seeded tables with the workspace id replaced, so databases compare.
func dump(t *testing.T, conn *pgx.Conn, ws string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"services", "routes", "plugins", "consumers", "keyauth_credentials", "upstreams", "targets", "tags"} {
		rows, err := conn.Query(t.Context(), `SELECT row_to_json(t)::text FROM `+table+` t ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(table + "\n" + strings.Join(lines, "\n") + "\n")
	}
	return strings.ReplaceAll(b.String(), ws, "WS")
}

// Two seeds of the same size are identical; seeding again inserts nothing; seeding 3.4.2
// directly gives what seeding 2.8.5 and upgrading gives.
func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	seeded := func(setupName string) (*kconf.Conf, *pgx.Conn, SeedResult) {
		c := setup(t, setupName)
		res, err := Seed(t.Context(), open(t, c), seedSize)
		if err != nil {
			t.Fatal(err)
		}
		return c, raw(t, c), res
	}
	ca, a, ra := seeded("2.8.5 bootstrapped")
	_, b, rb := seeded("2.8.5 bootstrapped")
	if ra.WorkspaceID == rb.WorkspaceID {
		t.Error("two bootstraps share a workspace id")
	}
	da, db := dump(t, a, ra.WorkspaceID), dump(t, b, rb.WorkspaceID)
	if da != db {
		t.Errorf("seeds differ:\n%s\n---\n%s", da, db)
	}
	if !strings.Contains(da, `"name":"svc-003"`) || strings.Count(da, `"name":"prometheus"`) != 1 {
		t.Errorf("dump:\n%s", da)
	}

	c3 := setup(t, "3.4.2 finished from 2.8.5")
	r3, err := Seed(t.Context(), open(t, c3), seedSize)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Seed(t.Context(), open(t, c3), seedSize)
	if err != nil || again != (SeedResult{WorkspaceID: r3.WorkspaceID}) {
		t.Errorf("second seed inserted %+v (%v)", again, err)
	}
	p3 := paths(t, raw(t, c3))
	if !slices.Contains(p3, `svc-002-route-2 ~/svc-002/v2/items/(?<id>\d+)$`) {
		t.Errorf("3.4.2 seed paths: %v", p3)
	}
	var targetKeys int
	if err := raw(t, c3).QueryRow(t.Context(), `SELECT count(cache_key) FROM targets`).Scan(&targetKeys); err != nil || targetKeys != 4 {
		t.Errorf("targets with cache_key at 3.4.2: %d (%v)", targetKeys, err)
	}
	must(t, ca, "3.4.2", "up", Options{Quiet: true})
	if got := paths(t, a); !slices.Equal(got, p3) {
		t.Errorf("2.8.5 seed upgraded: %v\n3.4.2 seed: %v", got, p3)
	}
}
