package node

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/drawbridge/drawbridge/internal/testsvc"
	"github.com/drawbridge/drawbridge/kongsim/sim"
)

func TestAdminAndStatusAPIBodies(t *testing.T) {
	t.Parallel()
	pg := postgres(t)
	for _, tc := range []struct {
		version     string
		edition     string // "" = no edition key
		ready       bool   // /status/ready exists
		objects     bool   // available_on_server values are {version, priority}
		luaVersion  string
		statusCodes []string
	}{
		{version: "2.8.5", luaVersion: "LuaJIT 2.1.0-beta3"},
		{version: "3.4.2", ready: true, objects: true, luaVersion: "LuaJIT 2.1.0-beta3"},
		{version: "3.6.1", edition: "community", ready: true, objects: true, luaVersion: "LuaJIT 2.1.0-20231117"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			db := newKongDB(t, pg, globalPrometheus(allFlags))
			n := startNode(t, nodeOptions{version: tc.version, db: &db})

			code, root := getJSON(t, n.admin+"/")
			if code != http.StatusOK {
				t.Fatalf("GET / = %d", code)
			}
			wantKeys := []string{"configuration", "hostname", "lua_version", "node_id", "pids", "plugins", "tagline", "timers", "version"}
			if tc.edition != "" {
				wantKeys = append(wantKeys, "edition")
			}
			slices.Sort(wantKeys)
			if got := keys(root); !reflect.DeepEqual(got, wantKeys) {
				t.Errorf("GET / keys %v, want %v", got, wantKeys)
			}
			for k, want := range map[string]any{"tagline": "Welcome to kong", "version": tc.version, "hostname": "kongsim-test",
				"node_id": n.nodeID, "lua_version": tc.luaVersion} {
				if root[k] != want {
					t.Errorf("GET / %s = %v, want %v", k, root[k], want)
				}
			}
			if tc.edition != "" && root["edition"] != tc.edition {
				t.Errorf("edition = %v, want %q", root["edition"], tc.edition)
			}
			if _, ok := dig(root, "timers", "running").(float64); !ok {
				t.Errorf("timers = %v", root["timers"])
			}
			if _, ok := dig(root, "pids", "master").(float64); !ok {
				t.Errorf("pids = %v", root["pids"])
			}
			prom := dig(root, "plugins", "available_on_server", "prometheus")
			if tc.objects {
				obj, _ := prom.(map[string]any)
				if obj["version"] != tc.version || obj["priority"] != float64(13) {
					t.Errorf("available_on_server.prometheus = %v, want {version %s, priority 13}", prom, tc.version)
				}
			} else if prom != true {
				t.Errorf("available_on_server.prometheus = %v, want true", prom)
			}
			if got := dig(root, "plugins", "enabled_in_cluster"); !reflect.DeepEqual(got, []any{"key-auth", "prometheus"}) {
				t.Errorf("enabled_in_cluster = %v", got)
			}
			conf := root["configuration"].(map[string]any)
			if conf["pg_password"] != "******" || conf["database"] != "postgres" || conf["prefix"] != string(n.prefix) {
				t.Errorf("configuration pg_password %v database %v prefix %v", conf["pg_password"], conf["database"], conf["prefix"])
			}
			if got := conf["status_listen"]; !reflect.DeepEqual(got, []any{n.statusAddr}) {
				t.Errorf("configuration.status_listen = %v", got)
			}
			if conf["pg_port"] != float64(db.pg.Port) {
				t.Errorf("configuration.pg_port = %v (want a number)", conf["pg_port"])
			}

			for _, base := range []string{n.admin, n.status} {
				code, st := getJSON(t, base+"/status")
				if code != http.StatusOK || dig(st, "database", "reachable") != true {
					t.Errorf("GET %s/status = %d %v", base, code, st["database"])
				}
				for _, k := range []string{"connections_active", "connections_reading", "connections_writing",
					"connections_waiting", "connections_accepted", "connections_handled", "total_requests"} {
					if _, ok := dig(st, "server", k).(float64); !ok {
						t.Errorf("GET %s/status: server.%s = %v", base, k, dig(st, "server", k))
					}
				}
				if cap := dig(st, "memory", "lua_shared_dicts", "kong", "capacity"); cap != "5.00 MiB" {
					t.Errorf("GET %s/status: kong dict capacity %v", base, cap)
				}
				code, nf := getJSON(t, base+"/no/such/path")
				if code != http.StatusNotFound || nf["message"] != "Not found" {
					t.Errorf("GET %s/no/such/path = %d %v", base, code, nf)
				}
			}
			code, ready := getJSON(t, n.status+"/status/ready")
			switch {
			case tc.ready && (code != http.StatusOK || ready["message"] != "ready"):
				t.Errorf("/status/ready = %d %v, want 200 ready", code, ready)
			case !tc.ready && (code != http.StatusNotFound || ready["message"] != "Not found"):
				t.Errorf("/status/ready = %d %v, want 404 (added in 3.3.0)", code, ready)
			}
			code, mem := getJSON(t, n.admin+"/status?unit=k&scale=1")
			if code != http.StatusOK || dig(mem, "memory", "lua_shared_dicts", "kong", "capacity") != "5120.0 KiB" {
				t.Errorf("/status?unit=k&scale=1 = %d %v", code, dig(mem, "memory", "lua_shared_dicts", "kong"))
			}
			code, bad := getJSON(t, n.admin+"/status?unit=x")
			if code != http.StatusBadRequest || bad["message"] == nil {
				t.Errorf("/status?unit=x = %d %v", code, bad)
			}
			resp, err := httpClient.Post(n.admin+"/", "application/json", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Server") != "kong/"+tc.version {
				t.Errorf("POST / = %d (Server %q)", resp.StatusCode, resp.Header.Get("Server"))
			}
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestDatabaseReachability breaks the database two ways and watches /status,
// /status/ready and kong_datastore_reachable follow.
func TestDatabaseReachability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		own     bool // a server of its own, to kill
		breakDB func(t *testing.T, pg *testsvc.Postgres, n *testNode)
		heal    func(t *testing.T, pg *testsvc.Postgres, n *testNode) // nil: no recovery checked
	}{
		{
			name: "server killed",
			own:  true,
			breakDB: func(t *testing.T, pg *testsvc.Postgres, _ *testNode) {
				if err := pg.Kill(); err != nil {
					t.Fatal(err)
				}
			},
			heal: func(t *testing.T, pg *testsvc.Postgres, _ *testNode) {
				if err := pg.Restart(t.Context()); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "fault db_unreachable",
			breakDB: func(t *testing.T, _ *testsvc.Postgres, n *testNode) {
				n.setFaults(t, func(f *sim.Faults) { f.DBUnreachable = true })
			},
			heal: func(t *testing.T, _ *testsvc.Postgres, n *testNode) {
				n.setFaults(t, func(f *sim.Faults) { f.DBUnreachable = false })
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pg := postgres(t)
			if tc.own {
				pg = testsvc.StartPostgres(t)
			}
			db := newKongDB(t, pg, globalPrometheus(allFlags))
			n := startNode(t, nodeOptions{version: "3.4.2", db: &db})
			checkReachable(t, n, true)
			tc.breakDB(t, pg, n)
			checkReachable(t, n, false)
			if !n.running() {
				t.Fatal("the node stopped when its database went away")
			}
			tc.heal(t, pg, n)
			checkReachable(t, n, true)
		})
	}
}

// checkReachable polls until every view of the database says reachable (or not).
func checkReachable(t *testing.T, n *testNode, want bool) {
	t.Helper()
	wantReady, wantMsg, wantGauge := http.StatusOK, "ready", "kong_datastore_reachable 1\n"
	if !want {
		wantReady, wantMsg, wantGauge = http.StatusServiceUnavailable, "failed to connect to database", "kong_datastore_reachable 0\n"
	}
	eventually(t, 10*time.Second, fmt.Sprintf("database reachable %v", want), func() error {
		for _, base := range []string{n.admin, n.status} {
			code, st := getJSON(t, base+"/status")
			if code != http.StatusOK || dig(st, "database", "reachable") != want {
				return fmt.Errorf("%s/status = %d, database %v", base, code, st["database"])
			}
		}
		code, ready := getJSON(t, n.status+"/status/ready")
		if code != wantReady || ready["message"] != wantMsg {
			return fmt.Errorf("/status/ready = %d %v", code, ready)
		}
		if _, _, body := get(t, n.status+"/metrics"); !containsLine(string(body), wantGauge) {
			return errors.New("metrics lack " + wantGauge)
		}
		return nil
	})
}

// TestDrain is "kong drain" (3.9): POST /status/ready status=draining, then 503 draining.
func TestDrain(t *testing.T) {
	t.Parallel()
	db := newKongDB(t, postgres(t), globalPrometheus(allFlags))
	n := startNode(t, nodeOptions{version: "3.9.0", db: &db})
	resp, err := httpClient.PostForm(n.status+"/status/ready", url.Values{"status": {"draining"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /status/ready status=draining = %d, want 204", resp.StatusCode)
	}
	if code, body := getJSON(t, n.status+"/status/ready"); code != http.StatusServiceUnavailable || body["message"] != "draining" {
		t.Errorf("after draining: %d %v", code, body)
	}
}

// TestGETRootWithExplicitPlugins: GET / reports what an explicit plugins list loads, as
// Kong's conf_loader and kong/api/routes/kong.lua do: available_on_server holds the loaded
// plugins only (a custom one with kongsim's version and priority), configuration.plugins the
// setting as written, configuration.loaded_plugins the set; "off" loads nothing.
func TestGETRootWithExplicitPlugins(t *testing.T) {
	t.Parallel()
	pg := postgres(t)
	for _, tc := range []struct {
		setting string
		loaded  []string
		raw     []any
	}{
		{"key-auth, prometheus,custom-x", []string{"custom-x", "key-auth", "prometheus"}, []any{"key-auth", "prometheus", "custom-x"}},
		{"off,bundled", nil, []any{"off", "bundled"}},
		{"bundled,off", nil, nil}, // every bundled plugin: checked by count below
	} {
		t.Run(tc.setting, func(t *testing.T) {
			t.Parallel()
			db := newKongDB(t, pg)
			n := startNode(t, nodeOptions{version: "3.4.2", db: &db, conf: map[string]string{"plugins": tc.setting}})
			_, root := getJSON(t, n.admin+"/")
			avail, _ := dig(root, "plugins", "available_on_server").(map[string]any)
			loaded, _ := dig(root, "configuration", "loaded_plugins").(map[string]any)
			if tc.setting == "bundled,off" {
				if len(avail) != 37 || len(loaded) != 37 { // kong/constants.lua at 3.4.2
					t.Errorf("bundled,off: %d available, %d loaded; want 37 each", len(avail), len(loaded))
				}
				return
			}
			if got := slices.Sorted(maps.Keys(avail)); !slices.Equal(got, tc.loaded) {
				t.Errorf("available_on_server %v, want %v", got, tc.loaded)
			}
			if got := slices.Sorted(maps.Keys(loaded)); !slices.Equal(got, tc.loaded) {
				t.Errorf("loaded_plugins %v, want %v", got, tc.loaded)
			}
			if raw := dig(root, "configuration", "plugins"); !reflect.DeepEqual(raw, tc.raw) {
				t.Errorf("configuration.plugins %v, want %v", raw, tc.raw)
			}
			if c, ok := avail["custom-x"].(map[string]any); ok && (c["version"] != "0.1.0" || c["priority"] != float64(1000)) {
				t.Errorf("custom-x = %v", c)
			}
			if ka, ok := avail["key-auth"].(map[string]any); ok && ka["priority"] != float64(1250) { // kong/plugins/key-auth/handler.lua
				t.Errorf("key-auth = %v", ka)
			}
		})
	}
}
