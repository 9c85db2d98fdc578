-- Every client backend but our own, read once; grouping and ages are computed by the caller.
-- The query text is cut short to bound the transfer. Without pg_read_all_stats, other roles'
-- rows hide backend_type too: a hidden row with both a database and a role is counted as a
-- client backend (autovacuum workers have no role; only rare background workers would be both).
SELECT a.pid,
       a.usename,
       a.datname,
       a.application_name,
       CASE WHEN a.client_port = -1 THEN 'local'
            ELSE pg_catalog.host(a.client_addr) END AS client,
       a.state,
       a.backend_start,
       a.xact_start,
       a.state_change,
       CASE WHEN a.wait_event IS NULL THEN NULL
            ELSE a.wait_event_type || ':' || a.wait_event END AS wait_event,
       left(a.query, 300) AS query,
       coalesce(r.rolsuper, false) AS superuser,
       a.query = '<insufficient privilege>' AS hidden
FROM pg_catalog.pg_stat_activity a
LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.usesysid
WHERE (a.backend_type = 'client backend'
       OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usesysid IS NOT NULL))
  AND a.pid <> pg_catalog.pg_backend_pid()
