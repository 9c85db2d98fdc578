SELECT cluster, reported_at, data FROM incidents WHERE cluster = :cluster
