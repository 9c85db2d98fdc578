DELETE FROM seen_events WHERE at < :before
