"""Prometheus metrics. One registry per process; the side port serves it at /metrics.

Label values are cluster, role and database names from the configuration and the catalog:
bounded by what is configured, never by user input.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "pgconn_requests",
    "Slack requests received, by kind (command, event, action).",
    ["kind"],
    registry=REGISTRY,
)
DIAGNOSES = Counter(
    "pgconn_diagnoses",
    "Diagnoses run, by cluster and outcome (live, no_live).",
    ["cluster", "outcome"],
    registry=REGISTRY,
)
DIAGNOSIS_SECONDS = Histogram(
    "pgconn_diagnosis_seconds",
    "Time to take a live snapshot and triage it.",
    ["cluster"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WARNINGS_POSTED = Counter(
    "pgconn_warnings_posted",
    "Warning messages posted (not updates), by cluster and level.",
    ["cluster", "level"],
    registry=REGISTRY,
)
APPROVALS = Counter(
    "pgconn_approvals",
    "Approval requests by outcome (requested, approved, rejected, refused, expired, done, failed).",
    ["outcome"],
    registry=REGISTRY,
)
PROBE_FAILURES = Counter(
    "pgconn_probe_failures",
    "Warning probes that failed, by cluster.",
    ["cluster"],
    registry=REGISTRY,
)
USAGE = Gauge(
    "pgconn_connections_used",
    "Connections in use against a limit, from the last probe.",
    ["cluster", "scope", "entity"],
    registry=REGISTRY,
)
LIMIT = Gauge(
    "pgconn_connections_limit",
    "The limit those connections count against.",
    ["cluster", "scope", "entity"],
    registry=REGISTRY,
)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
