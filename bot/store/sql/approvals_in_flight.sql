SELECT id, cluster, action, params, targets, statement, requester, channel, thread_ts,
       message_ts, status, created_at, expires_at, decided_by, decided_at, result
FROM approvals
WHERE status = 'approved'
ORDER BY decided_at
