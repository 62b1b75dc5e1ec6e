#!/usr/bin/env bash
# Start a throwaway MariaDB on 127.0.0.1 for the multi-worker tests and print its URL;
# `mariadb.sh stop` stops it and removes its data. Fails (and the MySQL tests skip) when no
# server can be started here.
set -euo pipefail
port=33069
if [ "${1:-}" = "stop" ]; then
  for data in /tmp/vmle-ci-mariadb.*; do
    [ -d "$data" ] || continue
    [ -f "$data/pid" ] && kill "$(cat "$data/pid")" 2>/dev/null || true
    sleep 1
    rm -rf "$data"
  done
  exit 0
fi
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq mariadb-server >/dev/null 2>&1
fi
data=$(mktemp -d /tmp/vmle-ci-mariadb.XXXXXX)
mariadb-install-db --user=root --datadir="$data/db" --auth-root-authentication-method=normal >/dev/null 2>&1
/usr/sbin/mariadbd --user=root --datadir="$data/db" --socket="$data/sock" --pid-file="$data/pid" \
  --port=$port --bind-address=127.0.0.1 --skip-log-bin --max-connections=500 >"$data/log" 2>&1 &
for _ in $(seq 1 60); do
  mariadb --socket="$data/sock" -uroot -e "select 1" >/dev/null 2>&1 && break
  sleep 0.5
done
mariadb --socket="$data/sock" -uroot -e "create database vmle; create user 'vmle'@'127.0.0.1' identified by 'vmle'; grant all on vmle.* to 'vmle'@'127.0.0.1';" >/dev/null
echo "mysql+pymysql://vmle:vmle@127.0.0.1:$port/vmle"
