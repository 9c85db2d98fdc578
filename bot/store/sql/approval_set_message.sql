UPDATE approvals SET message_ts = :message_ts WHERE id = :id
