-- The monitoring role's own CONNECTION LIMIT (-1: none), read once per cluster at start-up to
-- check it can hold pgconn's connection budget.
SELECT current_user AS role, r.rolconnlimit AS conn_limit
FROM pg_roles r
WHERE r.rolname = current_user
