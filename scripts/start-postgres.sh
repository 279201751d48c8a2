#!/usr/bin/env bash
# A PostgreSQL server on 127.0.0.1 for the tests that run MetaMcpSettings' SQL against a real database
# (test/metamcpSettings/*), with a test role that may create databases (each suite makes its own, so it can drop
# MetaMCP's table and bring it back). Debian's `postgresql` package is installed when missing, a cluster is
# created when there is none, and started when it is down. Idempotent: run it as often as you like.
#
# Prints the role's URL on stdout (diagnostics go to stderr), for the tests' environment variable:
#
#     export METAMCP_GUARD_TEST_POSTGRES_URL="$(bash scripts/start-postgres.sh)"
#
# Needs root (apt-get, and pg_ctlcluster/psql run as the postgres user through runuser). The role and its
# password are throwaway test values on a loopback-only server, not secrets.
set -euo pipefail

if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi

ROLE=metamcp_guard_test
# Distinct from the role name, so tests can check that it never shows in a message.
PASSWORD=mmg-test-pw-1f3c
DATABASE=metamcp_guard_test

log() { echo "start-postgres: $*" >&2; }

if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing Debian's postgresql"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi

# The first cluster, or a new one for the newest installed server version.
read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1) || true
if [ -z "${version:-}" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  log "creating cluster $version/main"
  pg_createcluster "$version" main >&2
  read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
fi

if [ "$status" != online ]; then
  log "starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start >&2
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
# Debian's clusters listen on localhost (127.0.0.1) by default; a cluster set up otherwise is not changed here.
pg_isready -q -h 127.0.0.1 -p "$port" || {
  log "cluster $version/$cluster does not answer on 127.0.0.1:$port; check listen_addresses in /etc/postgresql/$version/$cluster/postgresql.conf"
  exit 1
}

# The role (password reset every run, so a changed script still matches) and its own database.
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres \
  -v role="$ROLE" -v password="$PASSWORD" -v database="$DATABASE" >&2 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'role') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database') \gexec
SQL

log "ready: role $ROLE on 127.0.0.1:$port"
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"
