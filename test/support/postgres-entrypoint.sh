#!/bin/sh
# Entrypoint of the test Postgres image (test/support/images.ts, postgresServerImage), doing what the official
# postgres image's docker-entrypoint.sh does for the stack: as root, make PGDATA the postgres user's and re-run
# itself as that user; on an empty PGDATA only, create the cluster with POSTGRES_USER (the superuser),
# POSTGRES_PASSWORD and POSTGRES_DB, trusting the local socket and asking a password over TCP; then exec postgres,
# so it is the process Docker's stop signal (STOPSIGNAL SIGINT, through tini with --init) reaches.
set -eu
: "${PGDATA:?}" "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chown 999:999 "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  exec /usr/bin/setpriv --reuid=999 --regid=999 --clear-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is needed to initialise an empty data directory}"
  pwfile="$(mktemp)"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
  echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE \"$POSTGRES_DB\"" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "entrypoint: initialised $PGDATA for $POSTGRES_USER/$POSTGRES_DB"
fi

exec postgres -D "$PGDATA" "$@"
