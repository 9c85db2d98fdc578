-- Cancels each approved session's query only if it is still the one the approver saw: the same
-- pid with the same backend_start, and the same query (query_start), still running and still
-- matching the selection; never pgconn's own, a superuser's (unless allowed) or a non-client
-- backend's. Check and signal happen in one row of one statement; every target comes back with
-- what the server sees now, so a skipped one can be explained.
SELECT t.pid,
       t.backend_start,
       a.pid IS NOT NULL AS present,
       a.backend_start AS live_backend_start,
       a.usename AS role,
       a.datname AS database,
       a.application_name AS application,
       CASE WHEN a.client_port = -1 THEN 'local'
            ELSE pg_catalog.host(a.client_addr) END AS client,
       a.state,
       a.query_start,
       EXTRACT(epoch FROM now() - a.state_change)::float8 AS state_age_s,
       a.backend_type,
       r.rolsuper AS superuser,
       me.rolsuper AS admin_is_superuser,
       CASE WHEN a.backend_start = t.backend_start
             AND a.query_start = t.query_start
             AND a.backend_type = 'client backend'
             AND a.pid <> pg_catalog.pg_backend_pid()
             AND a.application_name <> ALL ({own_applications}::text[])
             AND (NOT r.rolsuper OR ({allow_superuser}::boolean AND me.rolsuper))
             AND ({role}::text IS NULL OR a.usename = {role}::text)
             AND ({database}::text IS NULL OR a.datname = {database}::text)
             AND ({application}::text IS NULL OR a.application_name = {application}::text)
             AND ({client}::text IS NULL
                  OR CASE WHEN a.client_port = -1 THEN 'local'
                          ELSE pg_catalog.host(a.client_addr) END = {client}::text)
             AND ({states}::text[] IS NULL OR a.state = ANY ({states}::text[]))
             AND a.state_change <= now() - pg_catalog.make_interval(secs => {min_age_s}::float8)
            THEN pg_catalog.pg_cancel_backend(t.pid)
       END AS signalled
FROM unnest({pids}::integer[], {backend_starts}::timestamptz[], {query_starts}::timestamptz[])
     AS t (pid, backend_start, query_start)
LEFT JOIN pg_catalog.pg_stat_activity AS a ON a.pid = t.pid
LEFT JOIN pg_catalog.pg_roles AS r ON r.oid = a.usesysid
LEFT JOIN pg_catalog.pg_roles AS me ON me.rolname = current_user
ORDER BY t.pid
