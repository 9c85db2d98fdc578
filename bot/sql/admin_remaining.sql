-- Which terminated sessions still exist (same pid, same backend_start): a backend frees its
-- slot only when it has exited, a moment after the signal.
SELECT a.pid
FROM pg_catalog.pg_stat_activity AS a
JOIN unnest({pids}::integer[], {backend_starts}::timestamptz[]) AS t (pid, backend_start)
  ON a.pid = t.pid AND a.backend_start = t.backend_start
