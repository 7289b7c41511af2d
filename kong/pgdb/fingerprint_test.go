package pgdb

import (
	"slices"
	"testing"

	"github.com/drawbridge/drawbridge/kong"
)

func tableNames(diffs []kong.TableDiff) []string {
	out := []string{}
	for _, d := range diffs {
		out = append(out, d.Table)
	}
	return out
}

func TestFingerprintTables(t *testing.T) {
	name, dsn := newKongDB(t)
	db := open(t, dsn)
	fp, err := db.Fingerprint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if db.Name() != name {
		t.Errorf("Name() = %q, want %q", db.Name(), name)
	}
	for _, want := range []struct {
		table string
		rows  int64
	}{{"services", 20}, {"routes", 60}, {"plugins", 41}, {"consumers", 50}, {"keyauth_credentials", 50},
		{"upstreams", 5}, {"targets", 15}, {"workspaces", 1}, {"parameters", 1}, {"acls", 0}, {"filter_chains", 0}} {
		if got, ok := fp.Tables[want.table]; !ok || got.Rows != want.rows || len(got.Hash) != 64 {
			t.Errorf("table %s: %+v (present %v), want %d rows", want.table, got, ok, want.rows)
		}
	}
	for _, runtime := range []string{"schema_meta", "locks", "cluster_events", "ratelimiting_metrics", "sessions",
		"oauth2_tokens", "oauth2_authorization_codes", "clustering_data_planes", "clustering_rpc_requests"} {
		if _, ok := fp.Tables[runtime]; ok {
			t.Errorf("runtime table %s is fingerprinted", runtime)
		}
	}
	if fp.At.IsZero() || len(fp.Hash) != 64 {
		t.Errorf("At %v, Hash %q", fp.At, fp.Hash)
	}
}

// Each step changes the database and names the tables whose summary must differ from the
// step before; runtime tables change nothing.
func TestFingerprintChanges(t *testing.T) {
	_, dsn := newKongDB(t)
	db := open(t, dsn)
	conn := superConn(t, db.Name())
	before, err := db.Fingerprint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.Fingerprint(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !again.Equal(before) || len(again.Diff(before)) != 0 {
		t.Fatalf("two reads differ: %s", kong.DiffString(again.Diff(before)))
	}
	steps := []struct {
		name    string
		sql     string
		changed []string
	}{
		{"service row changes", `UPDATE services SET retries = 7 WHERE name = 'svc-001'`, []string{"services"}},
		{"plugin config changes", `UPDATE plugins SET config = jsonb_set(config, '{minute}', '601')
		    WHERE name = 'rate-limiting' AND service_id = (SELECT id FROM services WHERE name = 'svc-002')`, []string{"plugins"}},
		{"route added", `INSERT INTO routes (id, name, service_id, protocols, paths, ws_id)
		    SELECT '7b0e6a34-7f0b-4f43-9d64-4d4a7c1b8e01', 'added', id, '{http}', '{/added}', ws_id FROM services WHERE name = 'svc-003'`, []string{"routes"}},
		{"tagged consumer added", `INSERT INTO consumers (id, username, tags, ws_id)
		    SELECT '7b0e6a34-7f0b-4f43-9d64-4d4a7c1b8e02', 'added', '{new}', id FROM workspaces`, []string{"consumers", "tags"}},
		{"credential deleted", `DELETE FROM keyauth_credentials WHERE key = 'kongsim-key-001'`, []string{"keyauth_credentials", "tags"}},
		{"same row count, other contents", `UPDATE upstreams SET slots = slots + 1 WHERE name = 'upstream-01'`, []string{"upstreams"}},
		{"runtime tables", `INSERT INTO cluster_events (id, node_id, at, nbf, expire_at, channel, data)
		    VALUES ('7b0e6a34-7f0b-4f43-9d64-4d4a7c1b8e03', '7b0e6a34-7f0b-4f43-9d64-4d4a7c1b8e04', now(), NULL, now() + interval '1 hour', 'invalidations', 'services:x');
		  INSERT INTO locks (key, owner, ttl) VALUES ('migrations', 'node-1', now() + interval '1 minute');
		  INSERT INTO ratelimiting_metrics (identifier, period, period_date, service_id, route_id, value)
		    VALUES ('1.2.3.4', 'minute', now(), '00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000000', 3)`, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if _, err := conn.Exec(t.Context(), s.sql); err != nil {
				t.Fatal(err)
			}
			after, err := db.Fingerprint(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			diffs := after.Diff(before)
			if got := tableNames(diffs); !slices.Equal(got, append([]string{}, s.changed...)) {
				t.Errorf("changed tables %v, want %v (%s)", got, s.changed, kong.DiffString(diffs))
			}
			if changed := len(s.changed) > 0; after.Equal(before) == changed {
				t.Errorf("Hash equal = %v, want %v", after.Equal(before), !changed)
			}
			before = after
		})
	}
}

func TestIsConfigTable(t *testing.T) {
	for _, c := range []struct {
		name  string
		wsID  bool
		wants bool
	}{
		{"services", true, true},
		{"parameters", false, true},
		{"tags", false, true},
		{"my_plugin_entities", true, true}, // a custom plugin's workspaceable entity
		{"my_plugin_counters", false, false},
		{"oauth2_tokens", true, false},
		{"clustering_data_planes", false, false},
		{"clustering_sync_delta", true, false},
		{"schema_meta", false, false},
	} {
		if got := isConfigTable(c.name, c.wsID); got != c.wants {
			t.Errorf("isConfigTable(%q, %v) = %v", c.name, c.wsID, got)
		}
	}
}
