-- pgconn_admin: the role behind `clusters.<name>.admin_dsn`, used only to run a fix that a
-- second person approved. Without an admin_dsn pgconn never changes anything.
--
--   psql -v ON_ERROR_STOP=1 -v app_roles=app_user,batch -f remediation-role.sql
--   psql ... -v password="$PW" ...        # or set it afterwards with \password pgconn_admin
--
-- `app_roles` lists the application roles whose CONNECTION LIMIT and settings pgconn may change
-- (PostgreSQL 16+ needs them named; see below). Run it as a superuser (or the provider's admin
-- role: README.md beside this file). It is safe to run again, and again with more app_roles.
--
-- What each fix needs:
--   terminate sessions        pg_terminate_backend(pid): pg_signal_backend. It can never end
--                             a superuser's session. The statement selects the sessions by
--                             state and age, which other roles' sessions show only with
--                             pg_read_all_stats.
--   ALTER ROLE r CONNECTION   CREATEROLE, and on PostgreSQL 16+ also ADMIN OPTION on r.
--   LIMIT n / ALTER ROLE r SET
--   ALTER DATABASE d          only d's owner or a superuser. Not granted here: making
--   CONNECTION LIMIT n        pgconn_admin a member of the owner would hand it every table.
--                             pgconn shows that statement for a person to run.
--   ALTER SYSTEM ...          superuser (or GRANT ALTER SYSTEM ON PARAMETER, 15+). Not
--                             granted: pgconn only shows those statements.
--
-- CREATEROLE is not the same grant on every version:
--   PostgreSQL 15 and older: CREATEROLE may alter, drop and grant membership in ANY
--     non-superuser role, pg_execute_server_program and pg_read_server_files included. The
--     PostgreSQL manual calls it almost-superuser. Keep admin_dsn's password in a secret store
--     and its CONNECTION LIMIT low; `app_roles` is not needed (and is ignored) there.
--   PostgreSQL 16+: CREATEROLE acts only on roles it holds ADMIN OPTION on. The grants below
--     give that for each app role with INHERIT FALSE and SET FALSE, so pgconn_admin can
--     administer app_user without gaining app_user's privileges on its tables or becoming it.

\set ON_ERROR_STOP on
SELECT current_setting('server_version_num')::int >= 160000 AS pgconn_pg16 \gset

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgconn_admin') THEN
        CREATE ROLE pgconn_admin;
    END IF;
END
$$;

-- Two connections: one fix at a time, plus a spare for the re-check.
ALTER ROLE pgconn_admin LOGIN INHERIT CREATEROLE CONNECTION LIMIT 2;
GRANT pg_signal_backend TO pgconn_admin;
GRANT pg_read_all_stats TO pgconn_admin;

ALTER ROLE pgconn_admin SET statement_timeout = '15s';
-- ALTER ROLE waits for no table lock, but a fix must never queue behind one.
ALTER ROLE pgconn_admin SET lock_timeout = '2s';
ALTER ROLE pgconn_admin SET idle_in_transaction_session_timeout = '30s';

-- A fix is most needed when the server is full: see monitoring-role.sql for reserved_connections.
\if :pgconn_pg16
GRANT pg_use_reserved_connections TO pgconn_admin;
\endif

\if :{?app_roles}
\if :pgconn_pg16
-- A misspelt name fails here (regrole knows only existing roles) instead of being skipped.
-- Superusers are skipped: no CONNECTION LIMIT applies to them and CREATEROLE cannot alter them.
SELECT format('GRANT %s TO pgconn_admin WITH ADMIN OPTION, INHERIT FALSE, SET FALSE', r.oid::regrole)
FROM unnest(string_to_array(:'app_roles', ',')) AS app(name)
JOIN pg_roles AS r ON r.oid = quote_ident(btrim(app.name))::regrole
WHERE btrim(app.name) <> '' AND NOT r.rolsuper
\gexec
\endif
\endif

\if :{?password}
ALTER ROLE pgconn_admin PASSWORD :'password';
\endif
