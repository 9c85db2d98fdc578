-- Settings that bound connections; absent names (e.g. reserved_connections before 16) are
-- simply not returned.
SELECT name, setting
FROM pg_catalog.pg_settings
WHERE name IN (
    'max_connections', 'superuser_reserved_connections', 'reserved_connections',
    'idle_in_transaction_session_timeout', 'idle_session_timeout', 'statement_timeout',
    'tcp_keepalives_idle', 'tcp_keepalives_interval', 'tcp_keepalives_count', 'max_wal_senders'
)
