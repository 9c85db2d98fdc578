-- A new report takes the cluster's row unless a report newer than :stale_before holds it
-- (rowcount 1: this writer posts the full report; 0: link the existing thread).
INSERT INTO incidents (cluster, reported_at, data) VALUES (:cluster, :reported_at, :data)
ON CONFLICT (cluster) DO UPDATE
SET reported_at = excluded.reported_at, data = excluded.data
WHERE incidents.reported_at < :stale_before
