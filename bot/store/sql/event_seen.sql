-- First sight of an event id inserts a row (rowcount 1); a retry finds it there (rowcount 0).
INSERT INTO seen_events (event_id, at) VALUES (:event_id, :at)
ON CONFLICT (event_id) DO NOTHING
