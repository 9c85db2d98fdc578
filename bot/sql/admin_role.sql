-- One role's CONNECTION LIMIT, its role-wide settings (ALTER ROLE ... SET, all databases) and
-- its backends now, pgconn's admin session excluded.
SELECT r.rolname AS name,
       r.rolconnlimit AS conn_limit,
       r.rolsuper AS superuser,
       COALESCE(r.rolconfig, ARRAY[]::text[]) AS settings,
       (SELECT count(*)
        FROM pg_catalog.pg_stat_activity AS a
        WHERE a.usesysid = r.oid AND a.pid <> pg_catalog.pg_backend_pid())::integer AS current
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = {role}::text
