#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for the multi-worker tests and print its URL;
# `postgres.sh stop` stops it and removes its data. Fails (and the PostgreSQL tests skip) when
# no server can be started here.
set -euo pipefail
port=54329
if [ "${1:-}" = "stop" ]; then
  for data in /tmp/vmle-ci-pg.*; do
    [ -d "$data" ] || continue
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    su postgres -s /bin/sh -c "$bin/pg_ctl -D $data -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$data"
  done
  exit 0
fi
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
data=$(mktemp -d /tmp/vmle-ci-pg.XXXXXX)
chown postgres "$data"
su postgres -s /bin/sh -c "$bin/initdb -D $data -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$bin/pg_ctl -D $data -o '-p $port -k $data -c listen_addresses=127.0.0.1' -l $data/log -w start" >/dev/null
su postgres -s /bin/sh -c "$bin/createdb -h 127.0.0.1 -p $port vmle"
echo "postgresql+psycopg2://postgres@127.0.0.1:$port/vmle"
