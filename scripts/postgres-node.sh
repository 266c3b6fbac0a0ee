#!/usr/bin/env bash
# A throwaway local PostgreSQL server for the account tests (Debian's `postgresql` package).
#
#   bash scripts/postgres-node.sh start    # install if missing (root), init, start; prints the URL
#   bash scripts/postgres-node.sh status   # exit 0 and print the URL when it answers
#   bash scripts/postgres-node.sh stop
#
# The cluster lives under $DISCOVERY_POSTGRES_HOME (default /var/tmp/discovery-postgres), owned
# by the `postgres` system user when run as root (initdb refuses to run as root), listens on
# 127.0.0.1 only, on $DISCOVERY_POSTGRES_PORT (default 55432: not 5432, to leave a user's own
# server alone). It holds one role and database, `discovery_test` (password `discovery_test`,
# allowed to create databases: each test run makes and drops its own). Nothing here is meant for
# real data. The URL printed on stdout is what DISCOVERY_DATABASE_URL /
# DISCOVERY_TEST_DATABASE_URL take:
#
#   postgresql+psycopg://discovery_test:discovery_test@127.0.0.1:55432/discovery_test
set -euo pipefail

ROOT_DIR=${DISCOVERY_POSTGRES_HOME:-/var/tmp/discovery-postgres}
PORT=${DISCOVERY_POSTGRES_PORT:-55432}
DATA=$ROOT_DIR/data
SOCKET_DIR=$ROOT_DIR/socket
LOGFILE=$ROOT_DIR/postgres.log
PG_USER=postgres
ROLE=discovery_test
PASSWORD=discovery_test
DATABASE=discovery_test
URL="postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"

log() { echo "[postgres-node] $*" >&2; }

die() {
  log "ERROR: $*"
  if [[ -s $LOGFILE ]]; then
    log "---- last 50 lines of $LOGFILE ----"
    tail -n 50 "$LOGFILE" >&2
  fi
  exit 1
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# as_pg CMD...: run a command as the user that owns the cluster.
as_pg() {
  if is_root; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

# The newest installed server's bin directory (Debian keeps them in /usr/lib/postgresql/N/bin).
find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [[ -x $dir/pg_ctl && -x $dir/initdb ]] && { echo "$dir"; return 0; }
  done
  return 1
}

ensure_installed() {
  find_bin >/dev/null && return 0
  is_root || die "PostgreSQL is not installed and we are not root: apt-get install postgresql"
  log "installing Debian's postgresql package"
  apt-get update -qq >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
    || die "apt-get install postgresql failed"
  find_bin >/dev/null || die "postgresql installed but no server binaries in /usr/lib/postgresql/*/bin"
}

ensure_user() {
  is_root || return 0
  id "$PG_USER" >/dev/null 2>&1 && return 0
  log "creating system user $PG_USER"
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$PG_USER"
}

answers() {
  local bin
  bin=$(find_bin) || return 1
  "$bin/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 3 >/dev/null 2>&1
}

# psql as the cluster's superuser over the private socket.
su_psql() {
  local bin
  bin=$(find_bin)
  as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKET_DIR" -p "$PORT" -U "$PG_USER" -d postgres "$@"
}

init_cluster() {
  local bin=$1
  [[ -f $DATA/PG_VERSION ]] && return 0
  log "initialising a cluster in $DATA"
  mkdir -p "$ROOT_DIR"
  is_root && chown "$PG_USER:" "$ROOT_DIR"
  chmod 700 "$ROOT_DIR"
  as_pg "$bin/initdb" -D "$DATA" -U "$PG_USER" --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$ROOT_DIR/initdb.log" 2>&1 \
    || { cat "$ROOT_DIR/initdb.log" >&2; die "initdb failed"; }
}

ensure_role() {
  su_psql <<SQL || die "could not create role/database $ROLE"
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END
\$\$;
SQL
  if [[ -z $(su_psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'") ]]; then
    su_psql -c "CREATE DATABASE $DATABASE OWNER $ROLE" || die "could not create database $DATABASE"
  fi
}

cmd_start() {
  ensure_installed
  ensure_user
  local bin
  bin=$(find_bin)
  if answers && [[ -S $SOCKET_DIR/.s.PGSQL.$PORT ]]; then
    log "already running on port $PORT"
    ensure_role
    echo "$URL"
    return 0
  fi
  if answers; then
    die "port $PORT is taken by a PostgreSQL server that is not ours ($DATA); set DISCOVERY_POSTGRES_PORT"
  fi
  init_cluster "$bin"
  mkdir -p "$SOCKET_DIR"
  if is_root; then chown "$PG_USER:" "$SOCKET_DIR" "$ROOT_DIR"; touch "$LOGFILE"; chown "$PG_USER:" "$LOGFILE"; fi
  chmod 700 "$SOCKET_DIR"
  log "starting PostgreSQL ($bin) on 127.0.0.1:$PORT"
  as_pg "$bin/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$SOCKET_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >&2 || die "pg_ctl start failed"
  answers || die "started, but pg_isready does not answer on port $PORT"
  ensure_role
  log "ready"
  echo "$URL"
}

cmd_stop() {
  local bin
  if ! bin=$(find_bin) || [[ ! -f $DATA/postmaster.pid ]]; then
    log "not running"
    return 0
  fi
  log "stopping"
  as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >&2 || log "pg_ctl stop failed"
}

cmd_status() {
  local bin
  bin=$(find_bin) || { log "PostgreSQL is not installed"; return 3; }
  if [[ -f $DATA/postmaster.pid ]] && answers; then
    log "running on 127.0.0.1:$PORT, data in $DATA"
    echo "$URL"
    return 0
  fi
  log "not running on port $PORT"
  return 3
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
