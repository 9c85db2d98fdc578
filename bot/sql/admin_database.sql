-- One database's CONNECTION LIMIT, its client backends now (pgconn's admin session excluded),
-- and whether the admin role may ALTER it: only a superuser or the owner (or who has the
-- owner's privileges) may.
SELECT d.datname AS name,
       d.datconnlimit AS conn_limit,
       (SELECT count(*)
        FROM pg_catalog.pg_stat_activity AS a
        WHERE a.datid = d.oid AND a.backend_type = 'client backend'
          AND a.pid <> pg_catalog.pg_backend_pid())::integer AS current,
       me.rolsuper OR pg_catalog.pg_has_role(current_user, d.datdba, 'USAGE') AS may_alter
FROM pg_catalog.pg_database AS d
JOIN pg_catalog.pg_roles AS me ON me.rolname = current_user
WHERE d.datname = {database}::text
