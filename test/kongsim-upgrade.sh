#!/usr/bin/env bash
# An in-place Kong upgrade done by hand, the way a platform team's runbook does it, against a
# kongsim cluster: 3 nodes on Kong 3.4.2 (the 3.x LTS) are upgraded to 3.5.0 with the kong CLI
# only. Used by cmd/kongsim's TestUpgradeByHandScript; runnable on its own:
#
#   KONGSIM=bin/kongsim PGHOST=127.0.0.1 PGPORT=5432 PGUSER=postgres PGDATABASE=kong \
#     WORKDIR=$(mktemp -d) test/kongsim-upgrade.sh
set -euo pipefail

: "${KONGSIM:?path of the kongsim binary}"
: "${WORKDIR:?an empty directory to lay the cluster out in}"
: "${PGHOST:=127.0.0.1}" "${PGPORT:=5432}" "${PGUSER:=kong}" "${PGDATABASE:=kong}"
FROM=${FROM:-3.4.2}
TO=${TO:-3.5.0}
NODES=${NODES:-3}

step() { printf '\n== %s\n' "$*"; }

# A "kong" on PATH, as on a real node.
"$KONGSIM" link "$WORKDIR/bin" >/dev/null
export PATH="$WORKDIR/bin:$PATH"

step "lay out $NODES nodes on Kong $FROM"
"$KONGSIM" cluster init --dir "$WORKDIR/cluster" --nodes "$NODES" --version "$FROM" \
  --pg-host "$PGHOST" --pg-port "$PGPORT" --pg-user "$PGUSER" --pg-database "$PGDATABASE"
confs=()
for i in $(seq 1 "$NODES"); do confs+=("$WORKDIR/cluster/kong-$i/kong.conf"); done
first=${confs[0]}

step "bootstrap the database and seed it"
kong migrations bootstrap -c "$first"
"$KONGSIM" seed -c "$first" --services 10 --routes 2 --consumers 20
for c in "${confs[@]}"; do kong start -c "$c"; done
for c in "${confs[@]}"; do kong version -c "$c"; done

step "stop every node of $FROM"
for c in "${confs[@]}"; do kong stop -p "$(dirname "$c")"; done
for c in "${confs[@]}"; do
  # kong stop sends TERM and returns at once, as Kong's does; wait until each has stopped.
  for _ in $(seq 1 100); do kong health -p "$(dirname "$c")" >/dev/null 2>&1 || break; sleep 0.1; done
  if kong health -p "$(dirname "$c")" >/dev/null 2>&1; then echo "node $(dirname "$c") did not stop" >&2; exit 1; fi
done

step "install $TO on every node"
for c in "${confs[@]}"; do "$KONGSIM" install -p "$(dirname "$c")" --version "$TO"; done

step "migrations up and finish"
set +e
kong migrations list -c "$first"; rc=$?
set -e
if [ "$rc" -ne 5 ]; then echo "migrations list before up exited $rc, want 5 (new migrations)" >&2; exit 1; fi
kong migrations up -c "$first"
kong migrations finish -c "$first"

step "start every node of $TO"
for c in "${confs[@]}"; do kong start -c "$c"; done
for c in "${confs[@]}"; do
  v=$(kong version -c "$c")
  if [ "$v" != "$TO" ]; then echo "node $(dirname "$c") runs $v, want $TO" >&2; exit 1; fi
done
kong migrations list -c "$first"
echo
echo "upgraded $NODES nodes from $FROM to $TO"
