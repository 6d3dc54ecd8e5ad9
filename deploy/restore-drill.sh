#!/usr/bin/env bash
# The restore drill: restore a dump into a fresh database and verify its ledger.
#
#   deploy/restore-drill.sh DUMP [DATABASE]
#
# DUMP is a `pg_dump --format=custom` file (a nightly base backup's logical
# twin, or `pg_dump -Fc` of production). DATABASE is the name of the fresh
# database to restore into (default: timebank_restore_<UTC date and time>);
# it must not exist. Connection settings come from the usual PG* variables
# (PGHOST, PGPORT, PGUSER as a role that may create databases). The drill
# creates the application's role if the server lacks it, restores the dump,
# runs `timebank ledger verify` against the restored copy, and drops the
# copy unless KEEP=1. Exit status: 0 when the restored ledger verifies clean,
# 1 when it does not, 2 when the restore itself failed.
set -euo pipefail

dump="${1:?usage: restore-drill.sh DUMP [DATABASE]}"
target="${2:-timebank_restore_$(date -u +%Y%m%d%H%M%S)}"
timebank="${TIMEBANK:-timebank}"

if [ ! -r "$dump" ]; then
  echo "restore drill: cannot read $dump" >&2
  exit 2
fi
if ! [[ "$target" =~ ^[a-z_][a-z0-9_]{0,62}$ ]]; then
  echo "restore drill: database name must be lower-case letters, digits and _" >&2
  exit 2
fi

cleanup() {
  if [ "${KEEP:-0}" != "1" ]; then
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$target\" WITH (FORCE)" >/dev/null || true
  fi
}

started=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE \"$target\"" || exit 2
trap cleanup EXIT
# The application's role (no superuser, no BYPASSRLS) owns nothing but is granted rights
# in the dump; a fresh server may lack it.
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'timebank_app') THEN
    CREATE ROLE timebank_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF; END \$\$" || exit 2
if ! pg_restore --exit-on-error --no-owner --dbname="$target" "$dump"; then
  echo "restore drill: pg_restore failed" >&2
  exit 2
fi
restored=$(date +%s)
echo "restore drill: restored $dump into $target in $((restored - started)) s"

host="${PGHOST:-127.0.0.1}"
port="${PGPORT:-5432}"
user="${PGUSER:-postgres}"
url="postgresql://${user}@${host}:${port}/${target}"
if DATABASE_URL="$url" "$timebank" ledger verify; then
  echo "restore drill: PASSED: ledger verified clean in $(( $(date +%s) - restored )) s"
  exit 0
fi
echo "restore drill: FAILED: the restored ledger does not verify" >&2
exit 1
