DELETE FROM alerts
WHERE cluster = :cluster AND entity_kind = :entity_kind AND entity = :entity
  AND version = :version
