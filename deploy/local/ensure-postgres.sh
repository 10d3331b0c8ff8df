#!/usr/bin/env bash
# Makes a PostgreSQL server available for the PostgreSQL sink's tests:
# installs Debian's `postgresql` package when no server binaries exist, then
# starts (or reuses) a private cluster on 127.0.0.1 with trust auth.
# Prints the connection URL on stdout; progress goes to stderr.
#
#   WEIBOSTREAM_PG_URL=url   use this server, install and start nothing
set -euo pipefail

if [[ -n "${WEIBOSTREAM_PG_URL:-}" ]]; then echo "$WEIBOSTREAM_PG_URL"; exit 0; fi

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin="$(find_bin)"
if [[ -z "$bin" || ! -x "$bin/pg_ctl" ]]; then
  echo "installing PostgreSQL (Debian package postgresql)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
  bin="$(find_bin)"
fi
[[ -x "$bin/pg_ctl" ]] || { echo "no PostgreSQL server binaries found after install" >&2; exit 1; }

port="${WEIBOSTREAM_PG_PORT:-55432}"
data="${TMPDIR:-/tmp}/weibostream-pg-$port"
run_as=()
if [[ "$(id -u)" == 0 ]]; then run_as=(runuser -u postgres --); fi

if [[ ! -f "$data/PG_VERSION" ]]; then
  mkdir -p "$data"
  [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$data"
  "${run_as[@]}" "$bin/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
fi
if ! "${run_as[@]}" "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  echo "starting PostgreSQL on 127.0.0.1:$port ($data)" >&2
  "${run_as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off" start >&2
fi
echo "postgres://postgres@127.0.0.1:$port/postgres"
