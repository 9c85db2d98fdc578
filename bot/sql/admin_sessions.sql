-- Sessions matching a fix's selection, oldest in their state first, with what the hard limits
-- need to judge each one (backend type, superuser, pgconn's own). The caller leaves out those
-- the limits forbid and says why; the signal statements check the limits again.
-- Parameters are composed by psycopg.sql: placeholders to run, literals to show.
SELECT a.pid,
       a.backend_start,
       a.usename AS role,
       a.datname AS database,
       COALESCE(a.application_name, '') AS application,
       CASE WHEN a.client_port = -1 THEN 'local'
            ELSE COALESCE(pg_catalog.host(a.client_addr), '?') END AS client,
       a.state,
       a.query_start,
       EXTRACT(epoch FROM now() - a.state_change)::float8 AS state_age_s,
       a.backend_type,
       COALESCE(r.rolsuper, false) AS superuser,
       a.pid = pg_catalog.pg_backend_pid() AS own,
       CASE WHEN a.state <> 'idle' THEN left(a.query, 200) END AS query
FROM pg_catalog.pg_stat_activity AS a
LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = a.usesysid
WHERE ({role}::text IS NULL OR a.usename = {role}::text)
  AND ({database}::text IS NULL OR a.datname = {database}::text)
  AND ({application}::text IS NULL OR a.application_name = {application}::text)
  AND ({client}::text IS NULL
       OR CASE WHEN a.client_port = -1 THEN 'local'
               ELSE pg_catalog.host(a.client_addr) END = {client}::text)
  AND ({states}::text[] IS NULL OR a.state = ANY ({states}::text[]))
  AND a.state_change <= now() - pg_catalog.make_interval(secs => {min_age_s}::float8)
ORDER BY a.state_change, a.pid
LIMIT {scan_limit}
