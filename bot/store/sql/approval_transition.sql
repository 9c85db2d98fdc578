-- Compare-and-set: only one caller moves a request out of a given status. The expiry check
-- applies when leaving 'pending' (:not_after is far in the future otherwise).
UPDATE approvals
SET status = :to_status,
    decided_by = COALESCE(:actor, decided_by),
    decided_at = COALESCE(:at, decided_at),
    result = COALESCE(:result, result)
WHERE id = :id AND status = :from_status AND expires_at > :not_after
