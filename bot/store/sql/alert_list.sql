SELECT cluster, entity_kind, entity, level, channel, message_ts, since, updated_at, data, version
FROM alerts
WHERE (CAST(:cluster AS TEXT) IS NULL OR cluster = :cluster)
ORDER BY cluster, entity_kind, entity
