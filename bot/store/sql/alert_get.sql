SELECT cluster, entity_kind, entity, level, channel, message_ts, since, updated_at, data, version
FROM alerts
WHERE cluster = :cluster AND entity_kind = :entity_kind AND entity = :entity
