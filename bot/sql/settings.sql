-- Settings that bound connections, as SHOW displays them (units included). missing_ok: names a
-- version lacks (reserved_connections before 16, idle_session_timeout before 14) come back NULL.
-- current_setting() is used instead of pg_settings, which builds every setting on each read.
SELECT current_setting('max_connections', true) AS max_connections,
       current_setting('superuser_reserved_connections', true) AS superuser_reserved_connections,
       current_setting('reserved_connections', true) AS reserved_connections,
       current_setting('idle_in_transaction_session_timeout', true)
         AS idle_in_transaction_session_timeout,
       current_setting('idle_session_timeout', true) AS idle_session_timeout,
       current_setting('statement_timeout', true) AS statement_timeout,
       current_setting('tcp_keepalives_idle', true) AS tcp_keepalives_idle,
       current_setting('tcp_keepalives_interval', true) AS tcp_keepalives_interval,
       current_setting('tcp_keepalives_count', true) AS tcp_keepalives_count,
       current_setting('max_wal_senders', true) AS max_wal_senders,
       -- What each backend may use, for the memory ceiling of max_connections.
       current_setting('shared_buffers', true) AS shared_buffers,
       current_setting('work_mem', true) AS work_mem,
       current_setting('maintenance_work_mem', true) AS maintenance_work_mem,
       current_setting('hash_mem_multiplier', true) AS hash_mem_multiplier,
       current_setting('autovacuum_max_workers', true) AS autovacuum_max_workers
