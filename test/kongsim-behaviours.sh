#!/usr/bin/env bash
# What kongsim does where real Kong clusters differ from the default, shown with the kong CLI
# the way an operator would meet it, each command's exit code and Kong's message checked.
# Used by cmd/kongsim's TestBehavioursScript; runnable on its own (every database empty):
#
#   KONGSIM=bin/kongsim PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres WORKDIR=$(mktemp -d) \
#     DB_PLUGINS=kb_plugins DB_HALFDONE=kb_halfdone DB_FINISH=kb_finish DB_TIMEOUTS=kb_timeouts \
#     DB_LOCK=kb_lock DB_PROMETHEUS=kb_prometheus DB_TOPOLOGY=kb_topology DB_SCHEMA=kb_schema \
#     test/kongsim-behaviours.sh [section…]
#
# Sections: plugins, halfdone, finish, timeouts, lock, prometheus, topology, schema.
set -euo pipefail

: "${KONGSIM:?path of the kongsim binary}"
: "${WORKDIR:?an empty directory to lay the clusters out in}"
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=kong}"

"$KONGSIM" link "$WORKDIR/bin" >/dev/null
export PATH="$WORKDIR/bin:$PATH"

section() { printf '\n==== %s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }

# expect CODE NEEDLE COMMAND…: runs COMMAND, shows it with its output, and fails unless it
# exits CODE and its output (stdout and stderr) contains NEEDLE ("" for anything).
expect() {
  local want=$1 needle=$2
  shift 2
  local out rc
  set +e
  out=$("$@" 2>&1)
  rc=$?
  set -e
  printf '$ %s\n%s\n[exit %d]\n' "$*" "$out" "$rc"
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL: exit $rc, want $want" >&2
    exit 1
  fi
  if [[ -n "$needle" && "$out" != *"$needle"* ]]; then
    echo "FAIL: the output lacks: $needle" >&2
    exit 1
  fi
  LAST="$out"
}

# eventually NEEDLE COMMAND…: COMMAND's output shows NEEDLE within 10 s (traffic builds up).
eventually() {
  local needle=$1 out
  shift
  for _ in $(seq 1 100); do
    out=$("$@" 2>&1) || true
    if [[ "$out" == *"$needle"* ]]; then
      printf '$ %s\n… shows %s\n' "$*" "$needle"
      LAST="$out"
      return 0
    fi
    sleep 0.1
  done
  printf '%s\n' "$out"
  echo "FAIL: $* never showed: $needle" >&2
  exit 1
}

# post HOST:PORT PATH JSON: an HTTP POST with bash alone; the status line and body.
post() {
  local host=${1%:*} port=${1##*:}
  exec 3<>"/dev/tcp/$host/$port"
  printf 'POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' "$2" "$1" "${#3}" "$3" >&3
  cat <&3
  exec 3<&-
}

# lacks TEXT: the last command's output does not contain TEXT.
lacks() {
  if [[ "$LAST" == *"$1"* ]]; then
    echo "FAIL: the output shows: $1" >&2
    exit 1
  fi
}

# node NAME VERSION DATABASE: a one-node cluster under $WORKDIR/NAME; sets CONF, PFX, ADMIN
# (host:port of the Admin API) and STATUS (of the Status API).
node() {
  local line
  line=$("$KONGSIM" cluster init --dir "$WORKDIR/$1" --nodes 1 --version "$2" \
    --pg-host "$PGHOST" --pg-port "$PGPORT" --pg-user "$PGUSER" --pg-database "$3" | grep '^kong-1')
  CONF="$WORKDIR/$1/kong-1/kong.conf"
  PFX="$WORKDIR/$1/kong-1"
  ADMIN=$(awk '{print $3}' <<<"$line" | sed 's|^http://||')
  STATUS=$(awk '{print $4}' <<<"$line" | sed 's|^http://||')
}

# get HOST:PORT PATH: an HTTP GET with bash alone (no curl on a bare machine); the body.
get() {
  local host=${1%:*} port=${1##*:}
  exec 3<>"/dev/tcp/$host/$port"
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$2" "$1" >&3
  sed '1,/^\r\{0,1\}$/d' <&3
  exec 3<&-
}

# stop [PREFIX]: kong stop (TERM, returns at once, as Kong's) and wait until the node is gone;
# the section's node when no prefix is given.
stop() {
  local pfx=${1:-$PFX}
  kong stop -p "$pfx" >/dev/null
  for _ in $(seq 1 100); do kong health -p "$pfx" >/dev/null 2>&1 || return 0; sleep 0.1; done
  echo "FAIL: $pfx did not stop" >&2
  exit 1
}

# --- plugins: an explicit list, as many production clusters load -------------------------
plugins() {
  : "${DB_PLUGINS:?a database for the plugins section}"
  section "plugins: only loaded plugins' migrations count"
  node plugins 3.4.2 "$DB_PLUGINS"
  local list=key-auth,rate-limiting,prometheus

  step "bootstrap with plugins = $list: core and those plugins only"
  expect 0 "Database is up-to-date" env KONG_PLUGINS=$list kong migrations bootstrap -c "$CONF"
  expect 0 "     key-auth: 000_base_key_auth" env KONG_PLUGINS=$list kong migrations list -c "$CONF"
  lacks "jwt:"
  lacks "acl:"

  step "a node loading every bundled plugin sees the other plugins' migrations as new"
  expect 5 "jwt: 000_base_jwt" kong migrations list -c "$CONF"

  step "seed and start with the list"
  "$KONGSIM" seed -c "$CONF" --services 4 --routes 1 --consumers 5 >/dev/null
  expect 0 "Kong started" env KONG_PLUGINS=$list kong start -c "$CONF"
  stop

  step "a plugin in use that the list leaves out: Kong refuses to start"
  expect 1 "error building initial plugins: rate-limiting plugin is in use but not enabled" \
    env KONG_PLUGINS=key-auth,prometheus kong start -c "$CONF"
  expect 0 "init_by_lua error:" cat "$PFX/logs/error.log"

  step "a custom plugin that is not installed: Kong refuses to start"
  expect 1 "on plugin 'custom-x': custom-x plugin is enabled but not installed;" \
    env KONG_PLUGINS=$list,custom-x kong start -c "$CONF"
  expect 0 "installed custom plugin custom-x" "$KONGSIM" install -p "$PFX" --plugin custom-x
  expect 0 "Kong started" env KONG_PLUGINS=$list,custom-x kong start -c "$CONF"
  stop

  step "plugins = off: core only, and the plugins in use stop the start"
  expect 0 "core: 000_base" env KONG_PLUGINS=off kong migrations list -c "$CONF"
  lacks "key-auth:"
  expect 1 "plugin is in use but not enabled" env KONG_PLUGINS=off kong start -c "$CONF"

  step "upgrade 3.4.2 → 3.5.0 → 3.6.1 with the list: only its plugins' migrations run"
  "$KONGSIM" install -p "$PFX" --version 3.5.0 >/dev/null
  expect 0 "core migrated up to: 021_340_to_350 (executed)" env KONG_PLUGINS=$list kong migrations up -c "$CONF"
  expect 0 "No pending migrations to finish" env KONG_PLUGINS=$list kong migrations finish -c "$CONF"
  "$KONGSIM" install -p "$PFX" --version 3.6.1 >/dev/null
  expect 0 "rate-limiting migrated up to: 006_350_to_360 (executed)" env KONG_PLUGINS=$list kong migrations up -c "$CONF"
  lacks "acme"
  lacks "opentelemetry"
  expect 0 "Executed migrations:" env KONG_PLUGINS=$list kong migrations list -c "$CONF"
  expect 0 "Kong started" env KONG_PLUGINS=$list kong start -c "$CONF"
  expect 0 "3.6.1" kong version -c "$CONF"
  stop
}

# --- halfdone: an "up" that failed part-way (3.5.0 → 3.6.1) -------------------------------
halfdone() {
  : "${DB_HALFDONE:?a database for the halfdone section}"
  section "halfdone: what Kong does with a half-done upgrade"
  node halfdone 3.5.0 "$DB_HALFDONE"
  kong migrations bootstrap -c "$CONF" >/dev/null
  "$KONGSIM" seed -c "$CONF" --services 3 --routes 1 --consumers 3 >/dev/null
  "$KONGSIM" install -p "$PFX" --version 3.6.1 >/dev/null

  step "rate-limiting's migration fails: each up is its own transaction, the earlier ones stay"
  "$KONGSIM" set -p "$PFX" faults.migration_fail=rate-limiting:006_350_to_360 >/dev/null
  expect 1 "migrations.lua:104: [PostgreSQL error] failed to run migration '006_350_to_360' up:" kong migrations up -c "$CONF"
  expect 0 "opentelemetry migrated up to: 001_331_to_332 (pending)" echo "$LAST"
  "$KONGSIM" set -p "$PFX" faults.migration_fail= >/dev/null

  step "up again: Kong refuses while migrations are pending"
  expect 1 "Error: Database has pending migrations; run 'kong migrations finish'" kong migrations up -c "$CONF"
  expect 4 "Database has pending migrations from a previous upgrade, and new migrations from this upgrade (version 3.6.1)" kong migrations list -c "$CONF"
  expect 0 "rate-limiting: 006_350_to_360" echo "$LAST"

  step "finish what is pending, then up the rest: the database converges"
  expect 0 "New migrations available; run 'kong migrations up' to proceed" kong migrations finish -c "$CONF"
  expect 0 "rate-limiting migrated up to: 006_350_to_360 (executed)" kong migrations up -c "$CONF"
  expect 0 "Executed migrations:" kong migrations list -c "$CONF"

  step "a name missing before last_executed is new, as state.lua reads it, and up runs it"
  psql -q -h "$PGHOST" -p "$PGPORT" -U "$PGUSER" -d "$DB_HALFDONE" -c \
    "UPDATE schema_meta SET executed = array_remove(executed, '003_200_to_210') WHERE key = 'schema_meta' AND subsystem = 'acl'"
  expect 5 "acl: 003_200_to_210" kong migrations list -c "$CONF"
  expect 0 "acl migrated up to: 003_200_to_210 (pending)" kong migrations up -c "$CONF"
  expect 0 "acl migrated up to: 003_200_to_210 (executed)" kong migrations finish -c "$CONF"
  expect 0 "Executed migrations:" kong migrations list -c "$CONF"
  expect 0 "Kong started" kong start -c "$CONF"
  stop
}

# --- finish: a teardown that fails (2.8.5 → 3.4.2) ----------------------------------------
finish() {
  : "${DB_FINISH:?a database for the finish section}"
  section "finish: a teardown that fails keeps what Kong keeps"
  node finish 2.8.5 "$DB_FINISH"
  kong migrations bootstrap -c "$CONF" >/dev/null
  "$KONGSIM" install -p "$PFX" --version 3.4.2 >/dev/null
  expect 0 "4 pending" kong migrations up -c "$CONF"

  step "http-log's teardown fails: core's is done, http-log's and the later ones stay pending"
  "$KONGSIM" set -p "$PFX" faults.finish_fail=http-log:001_280_to_300 >/dev/null
  expect 1 "migrations.lua:149: [PostgreSQL error] failed to run migration '001_280_to_300' teardown:" kong migrations finish -c "$CONF"
  expect 0 "core migrated up to: 016_280_to_300 (executed)" echo "$LAST"
  expect 4 "Pending migrations:"$'\n'"     http-log: 001_280_to_300" kong migrations list -c "$CONF"
  expect 0 "015_270_to_280, 016_280_to_300, 017_300_to_310" echo "$LAST" # core's is executed
  "$KONGSIM" set -p "$PFX" faults.finish_fail= >/dev/null
  expect 0 "pre-function migrated up to: 001_280_to_300 (executed)" kong migrations finish -c "$CONF"
  expect 0 "Executed migrations:" kong migrations list -c "$CONF"
}

# --- timeouts: --db-timeout and pg_timeout per version ------------------------------------
timeouts() {
  : "${DB_TIMEOUTS:?a database for the timeouts section}"
  section "timeouts: a slow migration under 3.6's and 3.7's rules"
  node timeouts 3.5.0 "$DB_TIMEOUTS"
  kong migrations bootstrap -c "$CONF" >/dev/null

  step "3.6.1: --db-timeout defaults to 60 s and overrides pg_timeout (5 s): a 6 s migration passes"
  "$KONGSIM" install -p "$PFX" --version 3.6.1 >/dev/null
  "$KONGSIM" set -p "$PFX" faults.migration_delay=core:022_350_to_360=6s >/dev/null
  expect 0 "core migrated up to: 022_350_to_360 (executed)" kong migrations up -c "$CONF"
  kong migrations finish -c "$CONF" >/dev/null

  step "3.7.1 without --db-timeout: pg_timeout (5 s) applies, the 6 s migration times out"
  "$KONGSIM" install -p "$PFX" --version 3.7.1 >/dev/null
  "$KONGSIM" set -p "$PFX" faults.migration_delay=core:023_360_to_370=6s >/dev/null
  expect 1 "failed to run migration '023_360_to_370' up: receive_message: failed to get type: timeout" kong migrations up -c "$CONF"
  expect 5 "core: 023_360_to_370" kong migrations list -c "$CONF"

  step "3.7.1 with --db-timeout 30: it passes"
  expect 0 "core migrated up to: 023_360_to_370 (executed)" kong migrations up --db-timeout 30 -c "$CONF"
  "$KONGSIM" set -p "$PFX" faults.migration_delay= >/dev/null
  expect 0 "" kong migrations finish -c "$CONF"
}

# --- lock: two nodes at once ---------------------------------------------------------------
lock() {
  : "${DB_LOCK:?a database for the lock section}"
  section "lock: the migrations lock between two kong processes"
  node lock 3.4.2 "$DB_LOCK"
  kong migrations bootstrap -c "$CONF" >/dev/null
  "$KONGSIM" install -p "$PFX" --version 3.5.0 >/dev/null
  "$KONGSIM" set -p "$PFX" faults.migration_delay=4s >/dev/null

  step "one up holds the lock for 4 s"
  local first="$WORKDIR/lock/first.out"
  kong migrations up -c "$CONF" >"$first" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do grep -q "migrating core" "$first" && break; sleep 0.1; done
  grep -q "migrating core" "$first" || { echo "FAIL: the first up did not start" >&2; exit 1; }

  step "finish does not wait: aborted, exit 0"
  expect 0 "aborted: another node is performing database changes" kong migrations finish -c "$CONF"
  step "up with --lock-timeout 1 gives up waiting: timeout, exit 1"
  expect 1 "Error: [PostgreSQL error] timeout" kong migrations up --lock-timeout 1 -c "$CONF"
  step "up waits for the other node, then says so and does nothing: exit 0"
  expect 0 "aborted: another node is performing database changes" kong migrations up -c "$CONF"
  wait "$pid"
  expect 0 "core migrated up to: 021_340_to_350 (executed)" cat "$first"
  "$KONGSIM" set -p "$PFX" faults.migration_delay= >/dev/null
  expect 0 "Executed migrations:" kong migrations list -c "$CONF"

  step "faults.lock_race: another node takes the lock just before up asks; up waits, does nothing, exit 0"
  "$KONGSIM" install -p "$PFX" --version 3.6.1 >/dev/null
  "$KONGSIM" set -p "$PFX" faults.lock_race=2s >/dev/null
  expect 0 "aborted: another node is performing database changes" kong migrations up -c "$CONF"
  expect 5 "New migrations available" kong migrations list -c "$CONF"
  step "and finish just before it asks: aborted at once"
  expect 0 "aborted: another node is performing database changes" kong migrations finish -c "$CONF"
  step "without the fault, up runs once the other node's lock has gone"
  "$KONGSIM" set -p "$PFX" faults.lock_race= >/dev/null
  eventually "core migrated up to: 022_350_to_360 (executed)" kong migrations up -c "$CONF"
}

# --- prometheus: the plugin's config per version -----------------------------------------
prometheus() {
  : "${DB_PROMETHEUS:?a database for the prometheus section}"
  section "prometheus: an upgrade from 2.8 keeps 2.8's plugin config"
  node prometheus 2.8.5 "$DB_PROMETHEUS"
  kong migrations bootstrap -c "$CONF" >/dev/null
  "$KONGSIM" seed -c "$CONF" --services 2 --routes 1 --consumers 2 --upstreams 0 >/dev/null
  expect 0 "Kong started" kong start -c "$CONF"
  step "2.8.5: request and latency families, with 2.8's names"
  eventually "kong_http_status{" get "$ADMIN" /metrics
  expect 0 "kong_latency_bucket{" echo "$LAST"
  stop

  step "upgraded to 3.4.2: the config is 2.8's, so no request or latency family until the flags are set"
  "$KONGSIM" install -p "$PFX" --version 3.4.2 >/dev/null
  kong migrations up -c "$CONF" >/dev/null
  kong migrations finish -c "$CONF" >/dev/null
  expect 0 "Kong started" kong start -c "$CONF"
  # Wait until the node has served traffic (nginx's request count), then look.
  local served=0
  for _ in $(seq 1 100); do
    LAST=$(get "$ADMIN" /metrics)
    served=$(awk '/^kong_nginx_requests_total\{/ {print int($2)}' <<<"$LAST")
    [ "${served:-0}" -ge 50 ] && break
    sleep 0.1
  done
  [ "${served:-0}" -ge 50 ] || { echo "FAIL: no traffic on the 3.4.2 node" >&2; exit 1; }
  echo "the node has served $served requests"
  expect 0 "kong_node_info{" echo "$LAST"
  lacks "kong_http_requests_total"
  lacks "kong_request_latency_ms"
  lacks "kong_upstream_target_health"
  expect 0 "kong_datastore_reachable 1" echo "$LAST"
  stop
}

# --- topology: control plane, data planes, DB-less --------------------------------------
topology() {
  : "${DB_TOPOLOGY:?a database for the topology section}"
  section "topology: a control plane, its data plane, DB-less nodes"
  "$KONGSIM" cluster init --dir "$WORKDIR/topology" --nodes 2 --version 3.4.2 \
    --pg-host "$PGHOST" --pg-port "$PGPORT" --pg-user "$PGUSER" --pg-database "$DB_TOPOLOGY" >"$WORKDIR/topology.txt"
  local cp="$WORKDIR/topology/kong-1/kong.conf" dp="$WORKDIR/topology/kong-2/kong.conf"
  local cpadmin dpstatus cluster
  cpadmin=$(awk '$1 == "kong-1" {print $3}' "$WORKDIR/topology.txt" | sed 's|^http://||')
  cluster=$(awk '$1 == "kong-2" {print $3}' "$WORKDIR/topology.txt" | sed 's|^http://||') # the data plane has no Admin API: its port serves as cluster_listen
  dpstatus=$(awk '$1 == "kong-2" {print $4}' "$WORKDIR/topology.txt" | sed 's|^http://||')
  kong migrations bootstrap -c "$cp" >/dev/null
  "$KONGSIM" seed -c "$cp" --services 2 --routes 1 --consumers 2 >/dev/null

  step "conf_loader's rules for the roles"
  expect 1 'only in-memory storage can be used when role = "data_plane"' env KONG_ROLE=data_plane KONG_PROXY_LISTEN=127.0.0.1:18000 kong start -c "$dp"
  expect 0 "Hint: set database = off in your kong.conf" echo "$LAST"
  expect 1 'cluster_listen must be specified when role = "control_plane"' env KONG_ROLE=control_plane KONG_CLUSTER_LISTEN=off kong start -c "$cp"
  expect 1 "role has an invalid value: 'edge' (data_plane, control_plane, traditional)" env KONG_ROLE=edge kong start -c "$cp"

  step "the control plane and a data plane of the same version"
  expect 0 "Kong started" env KONG_ROLE=control_plane KONG_CLUSTER_LISTEN="$cluster" kong start -c "$cp"
  expect 0 "Kong started" env KONG_ROLE=data_plane KONG_PROXY_LISTEN=127.0.0.1:18000 KONG_DATABASE=off KONG_CLUSTER_CONTROL_PLANE="$cluster" kong start -c "$dp"
  eventually '{"message":"ready"}' get "$dpstatus" /status/ready
  expect 0 '"configuration_hash":"' get "$dpstatus" /status
  lacks '"database"'
  lacks '"configuration_hash":"00000000000000000000000000000000"'
  expect 0 '"sync_status":"normal"' get "$cpadmin" /clustering/data-planes
  eventually 'kong_data_plane_version_compatible{' get "$cpadmin" /metrics
  expect 0 'kong_version="3.4.2"} 1' echo "$LAST"
  expect 0 "kong_data_plane_last_seen{" echo "$LAST"
  lacks "kong_http_requests_total" # a control plane proxies nothing

  step "a data plane newer than its control plane is refused"
  stop "$(dirname "$dp")"
  "$KONGSIM" install -p "$(dirname "$dp")" --version 3.5.0 >/dev/null
  expect 0 "Kong started" env KONG_ROLE=data_plane KONG_PROXY_LISTEN=127.0.0.1:18000 KONG_DATABASE=off KONG_CLUSTER_CONTROL_PLANE="$cluster" kong start -c "$dp"
  eventually '"sync_status":"kong_version_incompatible"' get "$cpadmin" /clustering/data-planes
  lacks '"sync_status":"normal"' # the same node (its node_id kept in kong.id), not a second one
  eventually 'kong_version="3.5.0"} 0' get "$cpadmin" /metrics
  expect 0 "no configuration available" get "$dpstatus" /status/ready
  expect 0 "is incompatible with older control plane version 3.4.2" cat "$(dirname "$dp")/logs/error.log"
  stop "$(dirname "$dp")"
  stop "$(dirname "$cp")"

  step "DB-less traditional: migrations succeed doing nothing; writes are refused; ready once configured"
  expect 0 "Database is already up-to-date" env KONG_DATABASE=off kong migrations up -c "$dp"
  expect 0 "Executed migrations:" env KONG_DATABASE=off kong migrations list -c "$dp"
  expect 0 "Kong started" env KONG_DATABASE=off kong start -c "$dp"
  local dpadmin=$cluster
  expect 0 "405" post "$dpadmin" /services '{"name":"s","url":"http://example.com"}'
  expect 0 "cannot create 'services' entities when not using a database" echo "$LAST"
  expect 0 "no configuration available (empty configuration present)" get "$dpstatus" /status/ready
  stop "$(dirname "$dp")"
  printf '_format_version: "3.0"\nservices:\n- name: s\n  url: http://example.com\n' >"$WORKDIR/kong.yml"
  expect 0 "Kong started" env KONG_DATABASE=off KONG_DECLARATIVE_CONFIG="$WORKDIR/kong.yml" kong start -c "$dp"
  expect 0 '{"message":"ready"}' get "$dpstatus" /status/ready
  stop "$(dirname "$dp")"
}

# --- schema and editions ------------------------------------------------------------------
schema() {
  : "${DB_SCHEMA:?a database for the schema section}"
  section "pg_schema and an Enterprise version"
  node schema 3.4.2 "$DB_SCHEMA"
  expect 0 "Database is up-to-date" env KONG_PG_SCHEMA=kong_s kong migrations bootstrap -c "$CONF"
  expect 0 "Executed migrations:" env KONG_PG_SCHEMA=kong_s kong migrations list -c "$CONF"
  expect 3 "Database needs bootstrapping" kong migrations list -c "$CONF" # public is still empty

  step "an Enterprise build installs and reports itself"
  expect 0 "installed Kong 3.4.3.12" "$KONGSIM" install -p "$PFX" --version 3.4.3.12
  expect 0 "3.4.3.12" kong version -c "$CONF"
  expect 0 "Kong started" env KONG_PG_SCHEMA=kong_s kong start -c "$CONF"
  expect 0 '"edition":"enterprise"' get "$ADMIN" /
  expect 0 '"version":"3.4.3.12"' echo "$LAST"
  stop
}

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(plugins halfdone finish timeouts lock prometheus topology schema)
for s in "${sections[@]}"; do
  "$s"
done
echo
echo "all sections passed: ${sections[*]}"
