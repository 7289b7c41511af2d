#!/usr/bin/env bash
# Makes sure the machine has what drawbridge's tests and demo run against: Go 1.26+,
# a PostgreSQL server (initdb, pg_ctl) with its client tools (pg_dump, pg_restore),
# Prometheus, docker-compose (validates the lab's compose file), and (for the tests only: ensure-deps.sh --browser) Chromium and an emoji
# font, with which the browser test drives the demo console. As root with apt-get it
# installs what is missing (one apt-get update, then apt-get install); otherwise it prints
# the exact command to run. With CI=true, or with --demo (make demo cannot run without
# them), a machine that still lacks something is an error; elsewhere the tests that need
# it are skipped.
set -euo pipefail

missing=()

pg_bin() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_dump" ] && [ -x "$d/pg_restore" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

pg_bin >/dev/null || missing+=(postgresql)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || missing+=(prometheus)
# docker-compose validates deploy/lab/compose.yaml (`docker-compose config`, no daemon); the demo does not need it.
[ "${1:-}" = "--demo" ] || command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
if [ "${1:-}" = "--browser" ]; then
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
  # The console shows drawbridge's emoji; without a colour emoji font the screenshots the
  # browser test keeps show empty boxes instead.
  [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
fi

if ! command -v go >/dev/null 2>&1; then
  echo "ensure-deps: go is not on PATH; install Go 1.26 (https://go.dev/dl/) and add /usr/local/go/bin to PATH" >&2
  exit 1
fi
gov=$(go env GOVERSION | sed 's/^go//')
case "$gov" in
  1.2[6-9]*|1.[3-9]*) ;;
  *) echo "ensure-deps: Go $gov is too old; drawbridge needs Go 1.26 or newer" >&2; exit 1 ;;
esac

if [ ${#missing[@]} -eq 0 ]; then
  if [ "${1:-}" = "--browser" ]; then extra=", Chromium"; else extra=""; fi
  echo "ensure-deps: installed: PostgreSQL ($(pg_bin)), Prometheus ($(command -v prometheus || echo /usr/bin/prometheus)), docker-compose$extra"
  exit 0
fi

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  pg_bin >/dev/null || { echo "ensure-deps: PostgreSQL binaries still missing after install" >&2; exit 1; }
  command -v prometheus >/dev/null 2>&1 || { echo "ensure-deps: prometheus still missing after install" >&2; exit 1; }
  [ "${1:-}" = "--demo" ] || command -v docker-compose >/dev/null 2>&1 || { echo "ensure-deps: docker-compose still missing after install" >&2; exit 1; }
  if [ "${1:-}" = "--browser" ]; then
    command -v chromium >/dev/null 2>&1 || { echo "ensure-deps: chromium still missing after install" >&2; exit 1; }
  fi
  exit 0
fi

echo "ensure-deps: missing: ${missing[*]}" >&2
echo "ensure-deps: run:  sudo apt-get update && sudo $cmd" >&2
if [ "${CI:-}" = "true" ] || [ "${1:-}" = "--demo" ]; then
  exit 1
fi
echo "ensure-deps: continuing; the tests that need them will be skipped" >&2
