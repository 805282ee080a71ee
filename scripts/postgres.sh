#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the relay tests, on loopback and its own port, and
# prints the connection URL. Installs Debian's postgresql package if no server is installed.
# Usage: eval "$(bash scripts/postgres.sh start)"; ...; bash scripts/postgres.sh stop "$MEND_PG_DIR"
# The tests run it with fsync off (a throwaway cluster need not survive a power cut);
# MEND_PG_FSYNC=on starts a durable one, as the benchmarks use, committing as a server would.
set -euo pipefail

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

case "${1:-}" in
start)
  if [ -z "$(pg_bin)" ]; then
    echo "installing PostgreSQL from Debian's packages" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  fi
  bin=$(pg_bin)
  dir=$(mktemp -d /tmp/mend-pg.XXXXXX)
  chown postgres:postgres "$dir"
  port=$(( 20000 + RANDOM % 20000 ))
  fsync=${MEND_PG_FSYNC:-off}
  case "$fsync" in on|off) ;; *) echo "MEND_PG_FSYNC must be on or off" >&2; exit 2 ;; esac
  su postgres -s /bin/sh -c "'$bin/initdb' -D '$dir/data' -A trust -U postgres" >/dev/null
  su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=$fsync\" start" >/dev/null
  echo "export MEND_PG_DIR='$dir'"
  echo "export MEND_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$port/postgres'"
  ;;
stop)
  dir=${2:?cluster folder}
  bin=$(pg_bin)
  su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast -w stop" >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start | stop DIR" >&2
  exit 2
  ;;
esac
