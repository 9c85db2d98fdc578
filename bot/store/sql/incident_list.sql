-- Every recorded report and alert thread touched since :since (the incident story reads them).
SELECT cluster, reported_at, data FROM incidents WHERE reported_at >= :since ORDER BY reported_at
