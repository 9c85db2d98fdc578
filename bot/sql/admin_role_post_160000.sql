-- One role's CONNECTION LIMIT, its role-wide settings (ALTER ROLE ... SET, all databases), its
-- backends now (pgconn's admin session excluded), and whether the admin role may ALTER it:
-- superuser, or, since PostgreSQL 16, CREATEROLE with ADMIN OPTION on that non-superuser role.
SELECT r.rolname AS name,
       r.rolconnlimit AS conn_limit,
       r.rolsuper AS superuser,
       COALESCE(r.rolconfig, ARRAY[]::text[]) AS settings,
       (SELECT count(*)
        FROM pg_catalog.pg_stat_activity AS a
        WHERE a.usesysid = r.oid AND a.pid <> pg_catalog.pg_backend_pid())::integer AS current,
       me.rolsuper
         OR (me.rolcreaterole AND NOT r.rolsuper
             AND pg_catalog.pg_has_role(current_user, r.oid, 'USAGE WITH ADMIN OPTION'))
         AS may_alter
FROM pg_catalog.pg_roles AS r
JOIN pg_catalog.pg_roles AS me ON me.rolname = current_user
WHERE r.rolname = {role}::text
