INSERT INTO audit (seq, at, event, actor, approval_id, cluster, details)
SELECT COALESCE(MAX(seq), 0) + 1, :at, :event, :actor, :approval_id, :cluster, :details
FROM audit
