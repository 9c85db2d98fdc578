-- Only the report that owns the row updates it (a newer claim has moved reported_at on).
UPDATE incidents SET data = :data WHERE cluster = :cluster AND reported_at = :reported_at
