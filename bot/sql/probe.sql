-- The warnings probe: usage of every limited role, every limited database and the server, each
-- with its three biggest holders (application, client, state), in one statement.
-- pg_stat_get_activity(NULL) is read once, directly (the pg_stat_activity view joins pg_database
-- and pg_authid for every row), and its rows are grouped at once: everything after that, host()
-- included, works on the few groups. The per-entity aggregates are MATERIALIZED so that joining
-- them to the roles and databases reads them once instead of once per role. At 500 sessions the
-- whole probe costs about twice a bare `SELECT count(*) FROM pg_stat_activity` on the server.
-- The filter is sessions.sql's: client backends, hidden rows of other roles included. pgconn's
-- own sessions (this backend, and the same role under the same application_name) are never counted
-- as used: each row reports them apart, as `own`, for the headroom model.
-- Superuser roles are left out: CONNECTION LIMIT does not apply to them.
WITH groups AS MATERIALIZED (
    SELECT a.usesysid AS role_oid,
           a.datid AS db_oid,
           coalesce(a.application_name, '') AS application,
           a.client_addr,
           a.client_port = -1 AS local,
           a.state,
           a.pid = pg_catalog.pg_backend_pid()
             OR (a.usesysid = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                               WHERE r.rolname = current_user)
                 AND a.application_name = current_setting('application_name')) AS own,
           count(*)::int AS n
    FROM pg_catalog.pg_stat_get_activity(NULL) AS a
    WHERE a.backend_type = 'client backend'
          OR (a.backend_type IS NULL AND a.datid IS NOT NULL AND a.usesysid IS NOT NULL)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
),
holders AS MATERIALIZED (
    SELECT role_oid, db_oid, application,
           CASE WHEN local THEN 'local' ELSE coalesce(pg_catalog.host(client_addr), '?') END AS client,
           state, n
    FROM groups
    WHERE NOT own
),
own_by_role AS MATERIALIZED (
    SELECT role_oid AS oid, sum(n)::int AS n FROM groups WHERE own GROUP BY role_oid
),
own_by_database AS MATERIALIZED (
    SELECT db_oid AS oid, sum(n)::int AS n FROM groups WHERE own GROUP BY db_oid
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
by_role AS MATERIALIZED (
    SELECT oid,
           sum(n)::int AS current,
           (sum(n) FILTER (WHERE state = 'idle'))::int AS idle,
           (sum(n) FILTER (WHERE state LIKE 'idle in transaction%'))::int AS idle_in_transaction,
           json_agg(json_build_array(application, client, state, n) ORDER BY rank)
             FILTER (WHERE rank <= 3) AS top
    FROM (SELECT h.role_oid AS oid, h.application, h.client, h.state, sum(h.n)::int AS n,
                 row_number() OVER (PARTITION BY h.role_oid
                                    ORDER BY sum(h.n) DESC, h.application, h.client) AS rank
          FROM holders AS h
          WHERE h.role_oid IN (SELECT oid FROM limited_roles)
          GROUP BY h.role_oid, h.application, h.client, h.state) AS ranked
    GROUP BY oid
),
by_database AS MATERIALIZED (
    SELECT oid,
           sum(n)::int AS current,
           (sum(n) FILTER (WHERE state = 'idle'))::int AS idle,
           (sum(n) FILTER (WHERE state LIKE 'idle in transaction%'))::int AS idle_in_transaction,
           json_agg(json_build_array(application, client, state, n) ORDER BY rank)
             FILTER (WHERE rank <= 3) AS top
    FROM (SELECT h.db_oid AS oid, h.application, h.client, h.state, sum(h.n)::int AS n,
                 row_number() OVER (PARTITION BY h.db_oid
                                    ORDER BY sum(h.n) DESC, h.application, h.client) AS rank
          FROM holders AS h
          WHERE h.db_oid IN (SELECT oid FROM limited_databases)
          GROUP BY h.db_oid, h.application, h.client, h.state) AS ranked
    GROUP BY oid
),
by_server AS (
    SELECT sum(n)::int AS current,
           (sum(n) FILTER (WHERE state = 'idle'))::int AS idle,
           (sum(n) FILTER (WHERE state LIKE 'idle in transaction%'))::int AS idle_in_transaction,
           json_agg(json_build_array(application, client, state, n) ORDER BY rank)
             FILTER (WHERE rank <= 3) AS top
    FROM (SELECT h.application, h.client, h.state, sum(h.n)::int AS n,
                 row_number() OVER (ORDER BY sum(h.n) DESC, h.application, h.client) AS rank
          FROM holders AS h
          GROUP BY h.application, h.client, h.state) AS ranked
)
SELECT 'server' AS kind,
       '' AS name,
       current_setting('max_connections')::int
         - current_setting('superuser_reserved_connections')::int
         - coalesce(current_setting('reserved_connections', true)::int, 0) AS conn_limit,
       coalesce(s.current, 0) AS current,
       coalesce(s.idle, 0) AS idle,
       coalesce(s.idle_in_transaction, 0) AS idle_in_transaction,
       coalesce(s.top, '[]') AS top,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS superuser_reserved,
       current_setting('reserved_connections', true)::int AS reserved,
       (SELECT coalesce(sum(n), 0)::int FROM own_by_role) AS own
FROM by_server AS s
UNION ALL
SELECT 'role', r.rolname, r.rolconnlimit, coalesce(b.current, 0), coalesce(b.idle, 0),
       coalesce(b.idle_in_transaction, 0), coalesce(b.top, '[]'), NULL, NULL, NULL,
       coalesce(o.n, 0)
FROM limited_roles AS r
LEFT JOIN by_role AS b ON b.oid = r.oid
LEFT JOIN own_by_role AS o ON o.oid = r.oid
UNION ALL
SELECT 'database', d.datname, d.datconnlimit, coalesce(b.current, 0), coalesce(b.idle, 0),
       coalesce(b.idle_in_transaction, 0), coalesce(b.top, '[]'), NULL, NULL, NULL,
       coalesce(o.n, 0)
FROM limited_databases AS d
LEFT JOIN by_database AS b ON b.oid = d.oid
LEFT JOIN own_by_database AS o ON o.oid = d.oid
