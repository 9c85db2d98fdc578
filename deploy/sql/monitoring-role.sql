-- pgconn_monitor: the role behind every `clusters.<name>.dsn`, used for read-only diagnostics and
-- the warning probes. See README.md beside this file for managed services (RDS, Cloud SQL).
--
--   psql -v ON_ERROR_STOP=1 -f monitoring-role.sql                      # then \password pgconn_monitor
--   psql -v ON_ERROR_STOP=1 -v password="$PW" -f monitoring-role.sql    # or set it here
--
-- Run it as a superuser (or the provider's admin role). It is safe to run again: the role is
-- created once, then its attributes, memberships and settings are (re)applied.
-- `\password` is the better way to set the password: psql sends only the SCRAM verifier, while
-- `-v password=` sends the clear text, which log_statement = 'ddl' or 'all' would log.

\set ON_ERROR_STOP on
SELECT current_setting('server_version_num')::int >= 160000 AS pgconn_pg16 \gset

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconn_monitor') THEN
        -- New roles are NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS. Those
        -- attributes are not restated below: on PostgreSQL 15 and older, even naming
        -- NOREPLICATION or NOBYPASSRLS needs a superuser, which managed services do not give.
        CREATE ROLE pgconn_monitor;
    END IF;
END
$$;

-- The connection budget (docs/guarantees.md): per bot replica and cluster, the one connection
-- kept for diagnoses, which the warnings probe shares, plus a one-off one while a diagnosis
-- outlasts the wait for it: 2 per replica. 6 holds the Helm chart's 3 replicas; pgconn warns at
-- start-up when the limit is too low. The limit also keeps a misbehaving bot from becoming part
-- of the incident it reports on.
ALTER ROLE pgconn_monitor LOGIN INHERIT CONNECTION LIMIT 6;

-- pg_monitor (pg_read_all_stats, pg_read_all_settings, pg_stat_scan_tables): every session's
-- user, state, client and query, and every setting. Without it pg_stat_activity shows other
-- roles' sessions as "<insufficient privilege>" and the report says what it could not see.
GRANT pg_monitor TO pgconn_monitor;

-- pgconn already asks for these in its startup packet; the role defaults also hold for anyone
-- else who logs in with this role's password. default_transaction_read_only is only a default
-- (a session may turn it off): what makes the role unable to write is that nothing grants it
-- INSERT, UPDATE, DELETE or CREATE anywhere. Keep it that way.
ALTER ROLE pgconn_monitor SET default_transaction_read_only = on;
ALTER ROLE pgconn_monitor SET statement_timeout = '5s';
ALTER ROLE pgconn_monitor SET lock_timeout = '1s';
ALTER ROLE pgconn_monitor SET idle_in_transaction_session_timeout = '30s';

-- PostgreSQL 16+: when every ordinary slot is taken ("remaining connection slots are reserved
-- for roles with the privileges of pg_use_reserved_connections"), members of
-- pg_use_reserved_connections may still use the `reserved_connections` slots. That is exactly
-- when pgconn is needed. The server must also reserve some (the default is 0; needs a restart):
--   ALTER SYSTEM SET reserved_connections = 3;
-- Size it for pgconn_monitor plus pgconn_admin; it comes out of max_connections, before the
-- superuser_reserved_connections. Older servers have no such slots: there the bot is refused
-- like everyone else once the server is full, and reports from the pasted error alone.
\if :pgconn_pg16
GRANT pg_use_reserved_connections TO pgconn_monitor;
\endif

\if :{?password}
ALTER ROLE pgconn_monitor PASSWORD :'password';
\endif
