-- Who pgconn is connected as, and what it may see. Before PostgreSQL 16 there is no
-- pg_use_reserved_connections role.
SELECT current_user AS role,
       now() AS now,
       r.rolsuper AS superuser,
       r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all,
       r.rolsuper AS can_use_reserved
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user
