SELECT seq, at, event, actor, approval_id, cluster, details
FROM audit
WHERE (CAST(:cluster AS TEXT) IS NULL OR cluster = :cluster)
  AND (CAST(:approval_id AS TEXT) IS NULL OR approval_id = :approval_id)
ORDER BY seq DESC
LIMIT :limit
