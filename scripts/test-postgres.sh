#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the tests, listening on 127.0.0.1 only, and print its
# SQLAlchemy URL on stdout. PostgreSQL refuses to run as root, so the cluster belongs to the
# `postgres` user (or to the calling user when not root).
#   start:    scripts/test-postgres.sh start     -> prints the OWNER's postgresql+psycopg://... URL
#   app-url:  scripts/test-postgres.sh app-url   -> prints the APPLICATION role's URL
#   stop:     scripts/test-postgres.sh stop
# Two roles, as a site sets them up (README "Multi-site PostgreSQL"):
#   readerstation      owns the database and the tables, runs the migrations (and, for the tests,
#                      creates one schema per test);
#   readerstation_app  what the workstations log in as: no ownership, so it can neither drop nor
#                      disable the triggers; `readerstation db grant-app-role` gives it INSERT and
#                      SELECT on the audit trail but no UPDATE, DELETE or TRUNCATE.
# Installs the Debian `postgresql` package when no server binaries are found.
set -euo pipefail

PGPORT="${READERSTATION_PG_PORT:-54329}"
PGDATA_DIR="${READERSTATION_PG_DIR:-/tmp/readerstation-pg}"
DB=readerstation_test
ROLE=readerstation
PASSWORD=readerstation
APP_ROLE=readerstation_app
APP_PASSWORD=readerstation_app

bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

cmd="${1:-start}"
if [ "$cmd" = "app-url" ]; then
  echo "postgresql+psycopg://$APP_ROLE:$APP_PASSWORD@127.0.0.1:$PGPORT/$DB"
  exit 0
fi
if [ "$cmd" = "stop" ]; then
  BIN="$(bin_dir)"
  [ -n "$BIN" ] && [ -d "$PGDATA_DIR" ] && as_owner "'$BIN/pg_ctl' -D '$PGDATA_DIR' -m fast stop" >/dev/null 2>&1 || true
  exit 0
fi

BIN="$(bin_dir)"
if [ -z "$BIN" ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(bin_dir)"
fi

if ! as_owner "'$BIN/pg_ctl' -D '$PGDATA_DIR' status" >/dev/null 2>&1; then
  if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
    mkdir -p "$PGDATA_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PGDATA_DIR"
    as_owner "'$BIN/initdb' -D '$PGDATA_DIR' -A trust -U postgres -E UTF8 --no-locale" >/dev/null
  fi
  as_owner "'$BIN/pg_ctl' -D '$PGDATA_DIR' -l '$PGDATA_DIR/server.log' -w \
    -o \"-c listen_addresses=127.0.0.1 -p $PGPORT -k /tmp -c max_connections=100 -c fsync=off\" start" >/dev/null
fi

PSQL="$BIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -v ON_ERROR_STOP=1 -qAt"
if [ -z "$($PSQL -c "SELECT 1 FROM pg_roles WHERE rolname='$ROLE'")" ]; then
  $PSQL -c "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD' CREATEDB" >/dev/null
fi
if [ -z "$($PSQL -c "SELECT 1 FROM pg_roles WHERE rolname='$APP_ROLE'")" ]; then
  # an ordinary login role: not superuser, may not create databases or roles
  $PSQL -c "CREATE ROLE $APP_ROLE LOGIN PASSWORD '$APP_PASSWORD' NOSUPERUSER NOCREATEDB NOCREATEROLE" >/dev/null
fi
if [ -z "$($PSQL -c "SELECT 1 FROM pg_database WHERE datname='$DB'")" ]; then
  $PSQL -c "CREATE DATABASE $DB OWNER $ROLE" >/dev/null
fi
# the application role may connect, but creates nothing in the database
$PSQL -d "$DB" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT CONNECT ON DATABASE $DB TO $APP_ROLE" >/dev/null
echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PGPORT/$DB"
