#!/bin/sh
# Run by the postgres image once, on an empty data directory (docker-entrypoint-initdb.d), with
# the server up on its local socket. Creates an application role to break in trials and the two
# pgconn roles, from the same scripts as production (deploy/sql/).
set -e

pgconn_psql() {
    psql -X -q -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" \
        --dbname "${POSTGRES_DB:-postgres}" "$@"
}
pgconn_sql_dir="${PGCONN_SQL_DIR:-/pgconn-sql}"

# app_user: what the trial application logs in as (through PgBouncer), with a limit low
# enough to hit by hand.
pgconn_psql -v app_password="$APP_PASSWORD" <<'SQL'
CREATE ROLE app_user LOGIN CONNECTION LIMIT 10 PASSWORD :'app_password';
CREATE DATABASE app OWNER app_user;
SQL

pgconn_psql -v password="$PGCONN_MONITOR_PASSWORD" -f "$pgconn_sql_dir/monitoring-role.sql"
pgconn_psql -v password="$PGCONN_ADMIN_PASSWORD" -v app_roles=app_user \
    -f "$pgconn_sql_dir/remediation-role.sql"
