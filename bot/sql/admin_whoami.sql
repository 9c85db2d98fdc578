-- What the admin role may do: signal other roles' backends (pg_signal_backend), see their
-- state (pg_read_all_stats), touch superusers' (superuser).
SELECT current_user AS role,
       r.rolsuper AS superuser,
       r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_signal_backend', 'USAGE')
         AS can_signal,
       r.rolsuper OR pg_catalog.pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')
         AS sees_all,
       r.rolsuper OR r.rolcreaterole AS can_alter_roles
FROM pg_catalog.pg_roles AS r
WHERE r.rolname = current_user
