-- Session state that a transaction-mode pooler hands from one client to the next: backends
-- holding advisory locks, and idle ones whose last command was LISTEN, a session-level SET or
-- PREPARE. Read only for clusters behind a configured pooler. Other roles' query texts are
-- hidden without pg_read_all_stats; pg_locks is visible to every role.
SELECT a.pid,
       a.usesysid,
       a.datid,
       a.state,
       CASE WHEN a.query ~* '^\s*(listen|set|prepare)\s' THEN left(a.query, 200) END AS query,
       a.pid IN (SELECT l.pid FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory'
                 AND l.granted) AS advisory
FROM pg_catalog.pg_stat_get_activity(NULL) AS a
WHERE (a.backend_type = 'client backend'
       OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usesysid IS NOT NULL))
  AND a.pid <> pg_catalog.pg_backend_pid()
  AND a.state = 'idle'
  AND (a.query ~* '^\s*(listen|set|prepare)\s'
       OR a.pid IN (SELECT l.pid FROM pg_catalog.pg_locks l WHERE l.locktype = 'advisory'
                    AND l.granted))
