-- Every client backend; names, grouping and ages are resolved by the caller. `own` marks
-- pgconn's sessions (this one, and others of the same role under the same application_name,
-- such as the warnings probe): they hold slots but are never counted as used.
-- pg_stat_get_activity() is read directly: the pg_stat_activity view joins pg_database and
-- pg_authid for names the caller already has, which more than doubles the server time.
-- Without pg_read_all_stats, other roles' rows hide backend_type too: a hidden row with both a
-- database and a role is counted as a client backend (autovacuum workers have no role).
-- Idle sessions' last query is not evidence of anything; the others' is cut short.
SELECT a.pid,
       a.usesysid,
       a.datid,
       a.application_name,
       CASE WHEN a.client_port = -1 THEN 'local'
            ELSE pg_catalog.host(a.client_addr) END AS client,
       a.state,
       a.backend_start,
       a.xact_start,
       a.state_change,
       CASE WHEN a.wait_event IS NULL THEN NULL
            ELSE a.wait_event_type || ':' || a.wait_event END AS wait_event,
       CASE WHEN a.state <> 'idle' THEN left(a.query, 200) END AS query,
       a.query = '<insufficient privilege>' AS hidden,
       a.pid = pg_catalog.pg_backend_pid()
         OR (a.usesysid = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                           WHERE r.rolname = current_user)
             AND a.application_name = current_setting('application_name')) AS own
FROM pg_catalog.pg_stat_get_activity(NULL) AS a
WHERE a.backend_type = 'client backend'
      OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usesysid IS NOT NULL)
