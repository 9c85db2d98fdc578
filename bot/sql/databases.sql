SELECT datname, datconnlimit, datallowconn
FROM pg_catalog.pg_database
WHERE NOT datistemplate OR datallowconn
