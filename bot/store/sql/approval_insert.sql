INSERT INTO approvals (id, cluster, action, params, targets, statement, requester, channel,
                       thread_ts, message_ts, status, created_at, expires_at)
VALUES (:id, :cluster, :action, :params, :targets, :statement, :requester, :channel,
        :thread_ts, :message_ts, :status, :created_at, :expires_at)
