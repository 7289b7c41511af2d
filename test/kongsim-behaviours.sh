#!/usr/bin/env bash
# What kongsim does where real Kong clusters differ from the default, shown with the kong CLI
# the way an operator would meet it, each command's exit code and Kong's message checked.
# Used by cmd/kongsim's TestBehavioursScript; runnable on its own (every database empty):
#
#   KONGSIM=bin/kongsim PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres WORKDIR=$(mktemp -d) \
#     DB_PLUGINS=kb_plugins test/kongsim-behaviours.sh [section…]
#
# Sections: plugins.
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
  if [ -n "$needle" ] && ! grep -qF -- "$needle" <<<"$out"; then
    echo "FAIL: the output lacks: $needle" >&2
    exit 1
  fi
  LAST="$out"
}

# lacks TEXT: the last command's output does not contain TEXT.
lacks() {
  if grep -qF -- "$1" <<<"$LAST"; then
    echo "FAIL: the output shows: $1" >&2
    exit 1
  fi
}

# node NAME VERSION DATABASE: a one-node cluster under $WORKDIR/NAME; sets CONF and PFX.
node() {
  "$KONGSIM" cluster init --dir "$WORKDIR/$1" --nodes 1 --version "$2" \
    --pg-host "$PGHOST" --pg-port "$PGPORT" --pg-user "$PGUSER" --pg-database "$3" >/dev/null
  CONF="$WORKDIR/$1/kong-1/kong.conf"
  PFX="$WORKDIR/$1/kong-1"
}

stop() {
  kong stop -p "$PFX" >/dev/null
  for _ in $(seq 1 100); do kong health -p "$PFX" >/dev/null 2>&1 || return 0; sleep 0.1; done
  echo "FAIL: $PFX did not stop" >&2
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

sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(plugins)
for s in "${sections[@]}"; do
  "$s"
done
echo
echo "all sections passed: ${sections[*]}"
