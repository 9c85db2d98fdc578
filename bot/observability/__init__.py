"""Running in production: metrics, structured logs with request ids, health and readiness."""
