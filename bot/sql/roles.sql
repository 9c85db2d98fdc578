-- Roles a session can run as, or that carry a limit; sessions name them by oid.
SELECT oid, rolname, rolconnlimit, rolsuper, rolcanlogin
FROM pg_catalog.pg_roles
WHERE rolcanlogin OR rolconnlimit >= 0
