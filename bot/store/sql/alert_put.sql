-- Optimistic concurrency: the write lands only on the version the writer read (0 = new row).
INSERT INTO alerts (cluster, entity_kind, entity, level, channel, message_ts, since,
                    updated_at, data, version)
VALUES (:cluster, :entity_kind, :entity, :level, :channel, :message_ts, :since, :updated_at,
        :data, :version + 1)
ON CONFLICT (cluster, entity_kind, entity) DO UPDATE
SET level = excluded.level, channel = excluded.channel, message_ts = excluded.message_ts,
    since = excluded.since, updated_at = excluded.updated_at, data = excluded.data,
    version = excluded.version
WHERE alerts.version = :version
