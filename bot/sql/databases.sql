SELECT oid, datname, datconnlimit, datallowconn
FROM pg_catalog.pg_database
