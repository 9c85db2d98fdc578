-- One database's CONNECTION LIMIT and its client backends now, pgconn's admin session excluded.
SELECT d.datname AS name,
       d.datconnlimit AS conn_limit,
       (SELECT count(*)
        FROM pg_catalog.pg_stat_activity AS a
        WHERE a.datid = d.oid AND a.backend_type = 'client backend'
          AND a.pid <> pg_catalog.pg_backend_pid())::integer AS current
FROM pg_catalog.pg_database AS d
WHERE d.datname = {database}::text
