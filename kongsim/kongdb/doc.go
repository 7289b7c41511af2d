// Package kongdb is Kong's PostgreSQL database as kongsim emulates it: the schema_meta and
// locks bookkeeping, the schema state Kong derives from it, the real schema changes of every
// core and plugin migration from 000_base to 024_380_to_390, "kong migrations
// bootstrap|up|finish|list|status|reset" end to end (Migrations), the check "kong start"
// makes (CheckStart), and a realistic configuration to upgrade (Seed).
//
// The facts come from /work/shared/reference/kong.md (sections 1, 2, 3 and 6.2/6.3) and,
// where the reference is silent, from Kong's source it cites: kong/cmd/migrations.lua,
// kong/cmd/utils/migrations.lua, kong/db/init.lua (run_migrations, cluster_mutex),
// kong/db/migrations/state.lua and the PostgreSQL connector.
//
// # Bookkeeping
//
// Bootstrap runs CREATE SCHEMA IF NOT EXISTS <pg_schema or the current schema>, creates
// schema_meta (key, subsystem, last_executed, executed TEXT[], pending TEXT[], primary key
// (key, subsystem)) and locks (key TEXT PRIMARY KEY, owner, ttl TIMESTAMPTZ, index
// locks_ttl_idx). Migrations are recorded with record_migration's statements: an up without
// teardown appends to executed and sets last_executed; an up with a teardown appends to
// pending only (a new row has NULL executed and last_executed); a teardown sets
// last_executed, appends to executed and removes from pending. So after bootstrap a
// subsystem that has a teardown migration has pending '{}', the others NULL. Re-runs (-f)
// append again, as Kong's array_append does.
//
// The state covers only the migrations the running version knows (facts.Known): rows and
// names it does not know are ignored, so an older binary against a newer database is up to
// date. A name in neither array is "new", also when it comes before last_executed (a gap), as
// in state.lua; only last_executed's own migration, in neither array, is "missing".
//
// # Migrations
//
// The SQL lives in sql/<subsystem>/<name>.sql ("-- +up", "-- +teardown"), keyed by the
// names in kongsim's facts; a test checks every migration there has up SQL, and teardown SQL
// exactly when a release gives it a teardown. A release whose module has no teardown yet
// (acme's 003_350_to_360 before 3.7) runs both parts in its up. Each up runs in its own transaction and
// is recorded after it commits, so a failure leaves the earlier migrations recorded and the
// failing one absent. Every statement is idempotent, because "up -f" and "finish -f" run
// executed migrations again. Columns and tables arrive in the migration the reference dates
// them to: routes.expression and priority, targets.cache_key and sm_vaults (copied from
// vaults_beta) in 016; use_srv_name, key_sets and keys in 017; plugins.instance_name in 018;
// updated_at columns in 019; filter_chains (and ttls dropped) in 020; data-plane labels,
// cert_details and rpc_capabilities with clustering_rpc_requests in 021–023;
// clustering_sync_version and clustering_sync_delta in 024. 016's up prefixes regex route
// paths with "~" (its up_f); its teardown removes duplicate targets, fills targets.cache_key
// and drops vaults_beta. Plugin migrations with a teardown rewrite plugin configs (e.g.
// rate-limiting's flat redis_* fields become config.redis on up and are removed on finish).
//
// # Output
//
// Progress, totals, list, status and error texts are Kong's, character for character; see
// the tests. Messages the reference does not give and Kong's source does not settle are:
//
//   - DB unreachable: "[PostgreSQL error] failed to retrieve PostgreSQL server_version_num:
//     <reason>", reason as pgmoon words it: "connection refused", "timeout", "host not
//     found", or "SEVERITY: message" for a server error (e.g. FATAL: database "kong" does not
//     exist).
//   - The MigrationFail fault's reason: "ERROR: kongsim: simulated failure of migration
//     <subsystem>:<name> (fault migration_fail)".
//   - "kong start" with missing migrations warns "Database is missing some migrations:" and
//     the list.
//   - A migration without SQL (impossible while the test passes): "[PostgreSQL error] failed
//     to load migration '<name>': module '<namespace>.<name>' not found".
//
// Where the reference is silent, Kong's code decides, including its surprises: "finish"
// ends with "No pending migrations to finish" also after finishing some; "up -f" with
// pending migrations re-runs the executed ones and stops before the new ones; "up" and
// "finish" on a database that needs bootstrapping fail with "Cannot run migrations: " and
// the bootstrap message; "bootstrap -f" on an empty database prints "Database not
// bootstrapped, nothing to reset" and bootstraps; "reset" on an empty database does not
// prompt; the totals line is "1 migration processed" but "0 migration processed".
//
// # Differences from Kong
//
//   - Constraints are simplified: no composite (id, ws_id) foreign keys between entities
//     (plain foreign keys and the (id, ws_id) / (ws_id, name) unique constraints are kept);
//     fewer secondary indexes; TTL clean-up triggers only where 3.3 added them.
//   - Pre-2.8 history is condensed: the migrations before 015 produce 2.8's tables and
//     columns in the reference's column order, not each release's exact intermediate DDL.
//   - 009's teardown computes ca_certificates.cert_digest as sha256 of the PEM text (Kong
//     hashes the DER). 016's regex conversion does not percent-decode paths and skips paths
//     that already start with "~". Plugin-config migrations other than 016's path conversion
//     are plausible rewrites of that plugin's config, not Kong's exact Lua.
//   - The workspace id and cluster_id are random per bootstrap, as in Kong; Seed's rows are
//     not.
//   - The lock TTL is computed by the database clock (CURRENT_TIMESTAMP + lock timeout),
//     not the client's.
//   - The MigrationFail fault applies to "kong migrations up" (and "up -f"), not bootstrap.
//   - An error raised under the cluster lock is wrapped as Kong wraps it ("[PostgreSQL
//     error] cluster_mutex callback threw an error: …/kong/cmd/utils/migrations.lua:104:
//     [PostgreSQL error] failed to run migration '<name>' up: <reason>"), with the first
//     frames of its stack trace only.
//   - "status" prints its JSON even with -q (Kong uses print, not the logger); its keys are
//     in Go's order, not a Lua hash's.
//   - "reset" aborted by another node's lock exits 1, as Kong's code does (os.exit(1)).
//     The prompt reads "[y/n]" as the reference writes it (Kong's source says "[Y/n]").
//   - -p/--prefix, -c, "Kong: <version>" at --v, and usage on a bad subcommand belong to
//     the CLI that calls Migrations.
package kongdb
