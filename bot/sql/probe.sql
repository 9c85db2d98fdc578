-- The warnings probe: usage of every limited role, every limited database and the server, each
-- with its three biggest holders (application, client, state), in one statement.
-- pg_stat_get_activity(NULL) is read once, directly (the pg_stat_activity view joins pg_database
-- and pg_authid for every row); sessions are grouped at once and only the groups are joined and
-- ranked, so the cost beyond reading the backend status array is a few hash aggregates.
-- The filter is sessions.sql's: client backends, hidden rows of other roles included, our own
-- backend excluded. The server row counts it back in: it does hold one of the server's slots.
-- Superuser roles are left out: CONNECTION LIMIT does not apply to them.
WITH backends AS MATERIALIZED (
    SELECT a.usesysid AS role_oid,
           a.datid AS db_oid,
           coalesce(a.application_name, '') AS application,
           CASE WHEN a.client_port = -1 THEN 'local'
                ELSE coalesce(pg_catalog.host(a.client_addr), '?') END AS client,
           a.state
    FROM pg_catalog.pg_stat_get_activity(NULL) AS a
    WHERE (a.backend_type = 'client backend'
           OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usesysid IS NOT NULL))
      AND a.pid <> pg_catalog.pg_backend_pid()
),
groups AS (
    SELECT role_oid, db_oid, application, client, state, count(*)::int AS n
    FROM backends
    GROUP BY role_oid, db_oid, application, client, state
),
limited_roles AS (
    SELECT r.oid, r.rolname, r.rolconnlimit
    FROM pg_catalog.pg_roles AS r
    WHERE r.rolconnlimit > 0 AND NOT r.rolsuper
),
limited_databases AS (
    SELECT d.oid, d.datname, d.datconnlimit
    FROM pg_catalog.pg_database AS d
    WHERE d.datconnlimit > 0 AND d.datallowconn
),
by_role AS (
    SELECT g.role_oid AS oid, g.application, g.client, g.state, sum(g.n)::int AS n,
           row_number() OVER (PARTITION BY g.role_oid
                              ORDER BY sum(g.n) DESC, g.application, g.client) AS rank
    FROM groups AS g
    WHERE g.role_oid IN (SELECT oid FROM limited_roles)
    GROUP BY g.role_oid, g.application, g.client, g.state
),
by_database AS (
    SELECT g.db_oid AS oid, g.application, g.client, g.state, sum(g.n)::int AS n,
           row_number() OVER (PARTITION BY g.db_oid
                              ORDER BY sum(g.n) DESC, g.application, g.client) AS rank
    FROM groups AS g
    WHERE g.db_oid IN (SELECT oid FROM limited_databases)
    GROUP BY g.db_oid, g.application, g.client, g.state
),
by_server AS (
    SELECT g.application, g.client, g.state, sum(g.n)::int AS n,
           row_number() OVER (ORDER BY sum(g.n) DESC, g.application, g.client) AS rank
    FROM groups AS g
    GROUP BY g.application, g.client, g.state
)
SELECT 'server' AS kind,
       '' AS name,
       current_setting('max_connections')::int
         - current_setting('superuser_reserved_connections')::int
         - coalesce(current_setting('reserved_connections', true)::int, 0) AS conn_limit,
       (SELECT coalesce(sum(n), 0)::int + 1 FROM groups) AS current,
       (SELECT coalesce(sum(n) FILTER (WHERE state = 'idle'), 0)::int FROM groups) AS idle,
       (SELECT coalesce(sum(n) FILTER (WHERE state LIKE 'idle in transaction%'), 0)::int
        FROM groups) AS idle_in_transaction,
       (SELECT coalesce(json_agg(json_build_array(application, client, state, n) ORDER BY rank),
                        '[]')
        FROM by_server WHERE rank <= 3) AS top,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       current_setting('reserved_connections', true)::int AS reserved
UNION ALL
SELECT 'role', r.rolname, r.rolconnlimit,
       coalesce(sum(b.n), 0)::int,
       coalesce(sum(b.n) FILTER (WHERE b.state = 'idle'), 0)::int,
       coalesce(sum(b.n) FILTER (WHERE b.state LIKE 'idle in transaction%'), 0)::int,
       coalesce(json_agg(json_build_array(b.application, b.client, b.state, b.n) ORDER BY b.rank)
                FILTER (WHERE b.rank <= 3), '[]'),
       NULL, NULL, NULL
FROM limited_roles AS r
LEFT JOIN by_role AS b ON b.oid = r.oid
GROUP BY r.oid, r.rolname, r.rolconnlimit
UNION ALL
SELECT 'database', d.datname, d.datconnlimit,
       coalesce(sum(b.n), 0)::int,
       coalesce(sum(b.n) FILTER (WHERE b.state = 'idle'), 0)::int,
       coalesce(sum(b.n) FILTER (WHERE b.state LIKE 'idle in transaction%'), 0)::int,
       coalesce(json_agg(json_build_array(b.application, b.client, b.state, b.n) ORDER BY b.rank)
                FILTER (WHERE b.rank <= 3), '[]'),
       NULL, NULL, NULL
FROM limited_databases AS d
LEFT JOIN by_database AS b ON b.oid = d.oid
GROUP BY d.oid, d.datname, d.datconnlimit
