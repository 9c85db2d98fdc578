-- Compare-and-set from 'pending' to 'expired', only once its time is up: an approval racing
-- the sweep either lands first (and the request runs) or finds it expired.
UPDATE approvals
SET status = 'expired', decided_at = :now
WHERE id = :id AND status = 'pending' AND expires_at <= :now
