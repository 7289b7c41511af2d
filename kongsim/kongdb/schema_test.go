package kongdb

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/drawbridge/drawbridge/kongsim/facts"
)

// core lists core migration names from kongsim's facts, first to last inclusive.
func core(first, last string) string {
	var out []string
	in := false
	for _, m := range facts.Default().All()[0].Migrations {
		in = in || m.Name == first
		if in {
			out = append(out, m.Name)
		}
		if m.Name == last {
			break
		}
	}
	return strings.Join(out, ",")
}

// schemaObj is "table" or "table.column"; a leading "!" means it must be absent.
func checkSchema(t *testing.T, conn *pgx.Conn, objs ...string) {
	t.Helper()
	for _, o := range objs {
		want := !strings.HasPrefix(o, "!")
		table, col, _ := strings.Cut(strings.TrimPrefix(o, "!"), ".")
		if got := hasColumn(t, conn, table, col); got != want {
			t.Errorf("%s: present = %v", strings.TrimPrefix(o, "!"), got)
		}
	}
}

// schema_meta rows and the schema itself along 2.8.5 → 3.4.2 → 3.5.0 → 3.6.1.
func TestSchemaMetaAlongUpgrades(t *testing.T) {
	t.Parallel()
	c := newDatabaseConf(t)
	conn := raw(t, c)
	base := core("000_base", "015_270_to_280")
	for _, step := range []struct {
		version, sub string
		listCode     int
		rows         map[string]string // subsystem → last|executed|pending ("NULL", "{}")
		schema       []string
	}{
		{"2.8.5", "bootstrap", 0, map[string]string{
			"core":          "015_270_to_280|" + base + "|{}",
			"acl":           "004_212_to_213|000_base_acl,002_130_to_140,003_200_to_210,004_212_to_213|{}",
			"bot-detection": "001_200_to_210|001_200_to_210|{}",
			"oauth2":        "005_210_to_211|000_base_oauth2,003_130_to_140,004_200_to_210,005_210_to_211|{}",
			"key-auth":      "003_200_to_210|000_base_key_auth,002_130_to_140,003_200_to_210|{}", // 003 has a teardown (ws_migrate_plugin)
			"session":       "001_add_ttl_index|000_base_session,001_add_ttl_index|NULL",
			"acme":          "000_base_acme|000_base_acme|NULL",
		}, []string{"workspaces", "services.enabled", "routes.path_handling", "routes.request_buffering", "vaults_beta", "ttls",
			"parameters", "keyauth_credentials.ws_id", "!routes.expression", "!sm_vaults", "!targets.cache_key", "!cluster_ca", "!plugins.run_on"}},
		{"3.4.2", "up", 4, map[string]string{
			"core":          "020_330_to_340|" + base + ",017_300_to_310,018_310_to_320,019_320_to_330,020_330_to_340|016_280_to_300",
			"http-log":      "NULL|NULL|001_280_to_300",
			"post-function": "NULL|NULL|001_280_to_300", // its 3.x module has a teardown
			"acme":          "002_320_to_330|000_base_acme,001_280_to_300,002_320_to_330|NULL",
			"acl":           "004_212_to_213|000_base_acl,002_130_to_140,003_200_to_210,004_212_to_213|{}",
		}, []string{"routes.expression", "routes.priority", "targets.cache_key", "sm_vaults", "key_sets", "keys", "upstreams.use_srv_name",
			"plugins.instance_name", "plugins.updated_at", "filter_chains", "!ttls", "vaults_beta"}},
		{"3.4.2", "finish", 0, map[string]string{
			"core":          "016_280_to_300|" + base + ",017_300_to_310,018_310_to_320,019_320_to_330,020_330_to_340,016_280_to_300|{}",
			"http-log":      "001_280_to_300|001_280_to_300|{}",
			"post-function": "001_280_to_300|001_280_to_300|{}",
		}, []string{"!vaults_beta", "sm_vaults", "!clustering_data_planes.labels"}},
		{"3.5.0", "up", 0, map[string]string{
			"core": "021_340_to_350|" + base + ",017_300_to_310,018_310_to_320,019_320_to_330,020_330_to_340,016_280_to_300,021_340_to_350|{}",
		}, []string{"clustering_data_planes.labels", "!clustering_data_planes.cert_details"}},
		{"3.5.0", "finish", 0, nil, nil},
		{"3.6.1", "up", 4, map[string]string{
			"core": "022_350_to_360|" + base + ",017_300_to_310,018_310_to_320,019_320_to_330,020_330_to_340,016_280_to_300,021_340_to_350,022_350_to_360|{}",
			// 3.6's modules of these have no teardown (it came in 3.7): up runs them whole.
			"acme":                  "003_350_to_360|000_base_acme,001_280_to_300,002_320_to_330,003_350_to_360|NULL",
			"rate-limiting":         "006_350_to_360|000_base_rate_limiting,003_10_to_112,004_200_to_210,005_320_to_330,006_350_to_360|NULL",
			"response-ratelimiting": "001_350_to_360|000_base_response_rate_limiting,001_350_to_360|NULL",
			"opentelemetry":         "NULL|NULL|001_331_to_332", // new in 3.6.1, with a teardown
		}, []string{"clustering_data_planes.cert_details", "!clustering_rpc_requests"}},
		{"3.6.1", "finish", 0, map[string]string{
			"acme":          "003_350_to_360|000_base_acme,001_280_to_300,002_320_to_330,003_350_to_360|NULL",
			"opentelemetry": "001_331_to_332|001_331_to_332|{}",
		}, nil},
	} {
		r := must(t, c, step.version, step.sub, Options{})
		if step.version == "3.5.0" && step.sub == "finish" && r.stdout != "No pending migrations to finish\n" {
			t.Errorf("3.5.0 finish: %q", r.stdout)
		}
		got := metaRows(t, conn)
		for sub, want := range step.rows {
			if got[sub] != want {
				t.Errorf("after %s %s: %s = %s\nwant %s", step.version, step.sub, sub, got[sub], want)
			}
		}
		checkSchema(t, conn, step.schema...)
		if r := kong(t, c, step.version, "list", Options{Quiet: true}); r.code != step.listCode {
			t.Errorf("after %s %s: list exit %d, want %d", step.version, step.sub, r.code, step.listCode)
		}
	}
}

// Every minor release with a migration changes the schema visibly, and bootstrapping the
// newest version gives the same tables and columns as upgrading to it step by step.
func TestEveryReleaseStepChangesTheSchema(t *testing.T) {
	t.Parallel()
	visible := map[string]string{
		"3.0.0": "routes.expression", "3.1.0": "key_sets", "3.2.0": "plugins.instance_name",
		"3.3.0": "plugins.updated_at", "3.4.0": "filter_chains", "3.5.0": "clustering_data_planes.labels",
		"3.6.0": "clustering_data_planes.cert_details", "3.7.0": "clustering_rpc_requests", "3.9.0": "clustering_sync_version",
	}
	cat := facts.Default()
	var steps []string
	prev := facts.MustParseVersion("2.8.5")
	for _, rel := range cat.Releases {
		if !prev.Less(rel.Version) {
			continue
		}
		if len(cat.Between(prev, rel.Version)) > 0 {
			steps = append(steps, rel.Version.String())
		}
		prev = rel.Version
	}
	// Releases whose migrations change data only: nothing to see in the schema.
	dataOnly := map[string]string{"3.6.1": "opentelemetry's 001_331_to_332 moves queue settings in plugins.config"}
	for v := range dataOnly {
		visible[v] = ""
	}
	if got := slices.Sorted(maps.Keys(visible)); !slices.Equal(got, steps) {
		t.Fatalf("releases with migrations after 2.8.5: %v; this test covers %v", steps, got)
	}

	c := newConf(t)
	conn := raw(t, c)
	must(t, c, "2.8.5", "bootstrap", Options{})
	for _, v := range steps {
		if dataOnly[v] != "" {
			must(t, c, v, "up", Options{})
			must(t, c, v, "finish", Options{})
			continue
		}
		checkSchema(t, conn, "!"+visible[v])
		must(t, c, v, "up", Options{})
		must(t, c, v, "finish", Options{})
		checkSchema(t, conn, visible[v])
	}
	must(t, c, "3.9.3", "up", Options{})
	upgraded := columns(t, conn)

	fresh := newConf(t)
	must(t, fresh, "3.9.3", "bootstrap", Options{})
	bootstrapped := columns(t, raw(t, fresh))
	if !slices.Equal(upgraded, bootstrapped) {
		t.Errorf("2.8.5 upgraded to 3.9.3 and 3.9.3 bootstrapped differ:\nonly upgraded: %v\nonly bootstrapped: %v",
			minus(upgraded, bootstrapped), minus(bootstrapped, upgraded))
	}
	for _, table := range []string{"workspaces", "services", "routes", "consumers", "plugins", "upstreams", "targets", "certificates",
		"snis", "ca_certificates", "tags", "parameters", "cluster_events", "clustering_data_planes", "key_sets", "keys", "sm_vaults",
		"filter_chains", "clustering_rpc_requests", "clustering_sync_version", "clustering_sync_delta", "keyauth_credentials", "acls",
		"basicauth_credentials", "hmacauth_credentials", "jwt_secrets", "oauth2_credentials", "oauth2_authorization_codes",
		"oauth2_tokens", "ratelimiting_metrics", "response_ratelimiting_metrics", "acme_storage", "sessions", "schema_meta", "locks",
		"!ttls", "!cluster_ca", "!vaults_beta"} {
		checkSchema(t, raw(t, fresh), table)
	}
	var ws int
	if err := raw(t, fresh).QueryRow(t.Context(), `SELECT count(*) FROM workspaces WHERE name = 'default'`).Scan(&ws); err != nil || ws != 1 {
		t.Errorf("default workspaces: %d (%v)", ws, err)
	}
}

func columns(t *testing.T, conn *pgx.Conn) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), `SELECT table_name || '.' || column_name || ' ' || data_type
  FROM information_schema.columns WHERE table_schema = CURRENT_SCHEMA ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// A MigrationFail fault stops "up" at that migration: earlier ones stay recorded, the
// failing one's DDL is rolled back, and once the fault is gone "up" completes.
func TestMigrationFail(t *testing.T) {
	t.Parallel()
	c := newConf(t)
	conn := raw(t, c)
	must(t, c, "3.0.0", "bootstrap", Options{})
	r := kong(t, c, "3.4.2", "up", Options{FailAt: "019_320_to_330"})
	// As Kong reports an error raised under the cluster lock (utils/migrations.lua:104).
	want := "Error: [PostgreSQL error] cluster_mutex callback threw an error: /usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:104: " +
		"[PostgreSQL error] failed to run migration '019_320_to_330' up: ERROR: kongsim: simulated failure of migration core:019_320_to_330 (fault migration_fail)\n" +
		"stack traceback:\n\t[C]: in function 'assert'\n\t/usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:104: in function </usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:70>\n\t[C]: in function 'xpcall'" + runWithV
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if !strings.HasSuffix(r.stdout, "core migrated up to: 018_310_to_320 (executed)\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if got := metaRows(t, conn)["core"]; got != "018_310_to_320|"+core("000_base", "018_310_to_320")+"|{}" {
		t.Errorf("core row after failed up: %s", got)
	}
	checkSchema(t, conn, "plugins.instance_name", "!plugins.updated_at", "!workspaces.updated_at", "!filter_chains")
	if got := listString(mustState(t, c, "3.4.2").New); got != "core:019_320_to_330,020_330_to_340;acme:002_320_to_330;key-auth:004_320_to_330;oauth2:006_320_to_330,007_320_to_330;rate-limiting:005_320_to_330;session:002_320_to_330;" {
		t.Errorf("new after failure: %s", got)
	}

	r = must(t, c, "3.4.2", "up", Options{})
	if !strings.HasPrefix(r.stdout, "migrating core on database '"+c.Get("pg_database")+"'...\ncore migrated up to: 019_320_to_330 (executed)\n") {
		t.Errorf("retry:\n%s", r.stdout)
	}
	checkSchema(t, conn, "plugins.updated_at", "filter_chains")
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 0 {
		t.Errorf("list after retry: %d", r.code)
	}
}

// When the failed up already left a migration pending, Kong refuses a plain "up", and
// "up -f" stops at the pending one; "finish" then "up" recover.
func TestMigrationFailAfterPending(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	if r := kong(t, c, "3.4.2", "up", Options{FailAt: "core:018_310_to_320"}); r.code != 1 {
		t.Fatalf("up with fault: exit %d", r.code)
	}
	conn := raw(t, c)
	if got := metaRows(t, conn)["core"]; got != "017_300_to_310|"+core("000_base", "015_270_to_280")+",017_300_to_310|016_280_to_300" {
		t.Errorf("core row: %s", got)
	}
	checkSchema(t, conn, "key_sets", "!plugins.instance_name")
	if r := kong(t, c, "3.4.2", "up", Options{}); r.code != 1 || !strings.Contains(r.stderr, "Database has pending migrations; run 'kong migrations finish'") {
		t.Errorf("plain up: %+v", r)
	}
	if r := must(t, c, "3.4.2", "up", Options{Force: true}); !strings.HasSuffix(r.stdout, "\nDatabase has pending migrations; run 'kong migrations finish' when ready\n") {
		t.Errorf("up -f:\n%s", r.stdout)
	}
	checkSchema(t, conn, "!plugins.instance_name")
	if r := must(t, c, "3.4.2", "finish", Options{}); !strings.HasSuffix(r.stdout, "\nNew migrations available; run 'kong migrations up' to proceed\n") {
		t.Errorf("finish:\n%s", r.stdout)
	}
	must(t, c, "3.4.2", "up", Options{})
	checkSchema(t, conn, "plugins.instance_name")
	// The plugins' migrations had not run before the failure: they are pending now.
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 4 || !strings.HasSuffix(r.stdout, "\nPending migrations:\n     http-log: 001_280_to_300\npost-function: 001_280_to_300\n pre-function: 001_280_to_300\n\nRun 'kong migrations finish' when ready\n") {
		t.Errorf("list: %d\n%s", r.code, r.stdout)
	}
	must(t, c, "3.4.2", "finish", Options{})
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 0 {
		t.Errorf("list after finish: %d\n%s", r.code, r.stdout)
	}
}

// Kong evaluates only the migrations it knows: 3.4.2 against a database migrated by 3.6.1
// is up to date (what a rollback that restores only the binaries meets).
func TestOlderBinaryAgainstNewerDatabase(t *testing.T) {
	t.Parallel()
	c := newConf(t)
	must(t, c, "3.4.2", "bootstrap", Options{})
	must(t, c, "3.6.1", "up", Options{})
	must(t, c, "3.6.1", "finish", Options{})
	r := kong(t, c, "3.4.2", "list", Options{})
	if r.code != 0 || strings.Contains(r.stdout, "021_340_to_350") || strings.Contains(r.stdout, "003_350_to_360") {
		t.Errorf("3.4.2 list: exit %d\n%s", r.code, r.stdout)
	}
	if r := must(t, c, "3.4.2", "up", Options{}); r.stdout != "Database is already up-to-date\n" {
		t.Errorf("3.4.2 up: %q", r.stdout)
	}
	st := mustState(t, c, "3.4.2")
	if !st.UpToDate() || st.Pending != nil || st.Missing != nil {
		t.Errorf("state %+v", st)
	}
	check, err := InspectStart(t.Context(), open(t, c), known("3.4.2"))
	if err != nil || check.Info != nil || check.Warn != nil {
		t.Errorf("InspectStart: %+v, %v", check, err)
	}
}

func TestCheckStart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setup, version string
		err            error
		errText        string
		info           string
	}{
		{setup: "empty", version: "3.4.2", err: ErrNeedsBootstrap,
			errText: "/usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:16: " + NeedsBootstrapMessage},
		{setup: "2.8.5 bootstrapped", version: "3.4.2", err: ErrNewMigrations,
			errText: "/usr/local/share/lua/5.1/kong/cmd/utils/migrations.lua:20: New migrations available; run 'kong migrations up' to proceed"},
		{setup: "3.4.2 up from 2.8.5", version: "3.4.2",
			info: "Database has pending migrations:\n         core: 016_280_to_300\n     http-log: 001_280_to_300\npost-function: 001_280_to_300\n pre-function: 001_280_to_300"},
		{setup: "3.4.2 up from 2.8.5", version: "2.8.5"}, // the old nodes keep running
		{setup: "3.4.2 finished from 2.8.5", version: "3.4.2"},
	} {
		t.Run(tc.setup+" at "+tc.version, func(t *testing.T) {
			t.Parallel()
			c := setup(t, tc.setup)
			info, err := CheckStart(t.Context(), open(t, c), known(tc.version))
			if !errors.Is(err, tc.err) || (err != nil && err.Error() != tc.errText) {
				t.Errorf("err = %v, want %v", err, tc.errText)
			}
			if got := strings.Join(info, "\n"); got != tc.info {
				t.Errorf("info = %q, want %q", got, tc.info)
			}
		})
	}
	t.Run("a gap is new: start refuses", func(t *testing.T) {
		t.Parallel()
		c := setup(t, "2.8.5 bootstrapped")
		if _, err := raw(t, c).Exec(t.Context(), `UPDATE schema_meta SET executed = array_remove(executed, '012_213_to_220') WHERE subsystem = 'core'`); err != nil {
			t.Fatal(err)
		}
		check, err := InspectStart(t.Context(), open(t, c), known("2.8.5"))
		if !errors.Is(err, ErrNewMigrations) || fmt.Sprint(check.State.New) != "[{core kong.db.migrations.core [{core 012_213_to_220 true}]}]" {
			t.Errorf("check %+v, err %v", check.State, err)
		}
	})
	t.Run("missing: last_executed itself absent", func(t *testing.T) {
		t.Parallel()
		c := setup(t, "2.8.5 bootstrapped")
		if _, err := raw(t, c).Exec(t.Context(), `UPDATE schema_meta SET executed = array_remove(executed, '015_270_to_280') WHERE subsystem = 'core'`); err != nil {
			t.Fatal(err)
		}
		check, err := InspectStart(t.Context(), open(t, c), known("2.8.5"))
		if err != nil || fmt.Sprint(check.Warn) != "[Database is missing some migrations:\ncore: 015_270_to_280]" {
			t.Errorf("check %+v, err %v", check, err)
		}
	})
}

// A pg_schema other than public is created by bootstrap and used throughout.
func TestPGSchema(t *testing.T) {
	t.Parallel()
	c := newDatabaseConf(t)
	c.Values["pg_schema"] = "kong_tests"
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 3 {
		t.Fatalf("list: %+v", r)
	}
	must(t, c, "3.4.2", "bootstrap", Options{})
	var n int
	if err := raw(t, c).QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'kong_tests' AND table_name IN ('schema_meta', 'locks', 'services')`).Scan(&n); err != nil || n != 3 {
		t.Errorf("tables in kong_tests: %d (%v)", n, err)
	}
	must(t, c, "3.4.2", "reset", Options{Yes: true})
	if r := kong(t, c, "3.4.2", "list", Options{}); r.code != 3 {
		t.Errorf("list after reset: %d", r.code)
	}
}

// After bootstrap, exactly the subsystems that have a migration with a teardown have
// pending '{}' (recorded pending, then removed); the others have NULL.
func TestBootstrapPendingNullOrEmpty(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"2.8.5", "3.9.3"} {
		c := newConf(t)
		must(t, c, v, "bootstrap", Options{})
		rows := metaRows(t, raw(t, c))
		subs := known(v)
		if len(rows) != len(subs) {
			t.Errorf("%s: %d rows for %d subsystems", v, len(rows), len(subs))
		}
		for _, sub := range subs {
			want := "NULL"
			if slices.ContainsFunc(sub.Migrations, func(m facts.Migration) bool { return m.Teardown }) {
				want = "{}"
			}
			last := sub.Migrations[len(sub.Migrations)-1].Name
			names := strings.Join(SubsystemMigrations{Migrations: sub.Migrations}.Names(), ",")
			if got := rows[sub.Name]; got != last+"|"+names+"|"+want {
				t.Errorf("%s %s: %s, want pending %s", v, sub.Name, got, want)
			}
		}
	}
}

// The physical column order of services and routes is Kong's (the reference's pg_dump of a
// 2.8 database), with 3.0's columns appended.
func TestColumnOrder(t *testing.T) {
	t.Parallel()
	c := setup(t, "3.4.2 up from 2.8.5")
	conn := raw(t, c)
	order := func(table string) string {
		var s string
		if err := conn.QueryRow(t.Context(), `SELECT string_agg(column_name, ',' ORDER BY ordinal_position)
  FROM information_schema.columns WHERE table_schema = CURRENT_SCHEMA AND table_name = $1`, table).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for table, want := range map[string]string{
		"services":   "id,created_at,updated_at,name,retries,protocol,host,port,path,connect_timeout,write_timeout,read_timeout,tags,client_certificate_id,tls_verify,tls_verify_depth,ca_certificates,ws_id,enabled",
		"routes":     "id,created_at,updated_at,name,service_id,protocols,methods,hosts,paths,snis,sources,destinations,regex_priority,strip_path,preserve_host,tags,https_redirect_status_code,headers,path_handling,ws_id,request_buffering,response_buffering,expression,priority",
		"workspaces": "id,name,comment,created_at,meta,config,updated_at",
	} {
		if got := order(table); got != want {
			t.Errorf("%s columns\n%s\nwant\n%s", table, got, want)
		}
	}
}

// 3.0's up copies 2.8's vaults_beta into sm_vaults; finish drops vaults_beta.
func TestVaultsBetaBecomesSMVaults(t *testing.T) {
	t.Parallel()
	c := setup(t, "2.8.5 bootstrapped")
	conn := raw(t, c)
	if _, err := conn.Exec(t.Context(), `INSERT INTO vaults_beta (id, ws_id, prefix, name, config)
     VALUES ('11111111-2222-4333-8444-555555555555', (SELECT id FROM workspaces), 'env-vault', 'env', '{"prefix": "KONG_"}')`); err != nil {
		t.Fatal(err)
	}
	must(t, c, "3.0.0", "up", Options{})
	var prefix string
	if err := conn.QueryRow(t.Context(), `SELECT prefix FROM sm_vaults WHERE name = 'env'`).Scan(&prefix); err != nil || prefix != "env-vault" {
		t.Errorf("sm_vaults: %q (%v)", prefix, err)
	}
	checkSchema(t, conn, "vaults_beta")
	must(t, c, "3.0.0", "finish", Options{})
	checkSchema(t, conn, "!vaults_beta", "sm_vaults")
}
