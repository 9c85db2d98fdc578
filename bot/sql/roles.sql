-- Roles that can log in or have a connection limit; usage is counted from the sessions.
SELECT rolname, rolconnlimit, rolsuper, rolcanlogin
FROM pg_catalog.pg_roles
WHERE rolcanlogin OR rolconnlimit >= 0
