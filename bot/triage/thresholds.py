"""When triage calls something near, stuck or leaking, and what it recommends."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Thresholds:
    # A limit at or above this share of its size is near (WARNING); at 100 % it is full.
    near_ratio: float = 0.8
    # Idle longer than this holds a slot for nothing.
    idle_min_age_s: int = 600
    # This many long-idle sessions of one role are worth a finding even when nothing is full.
    idle_min_sessions: int = 5
    # When this share of them comes from one application and client, call it a probable leak.
    leak_share: float = 0.6
    # Idle in transaction longer than this is worth a finding.
    idle_tx_min_age_s: int = 60
    # Values suggested for the timeouts (PostgreSQL setting syntax).
    idle_tx_timeout: str = "5min"
    idle_session_timeout: str = "30min"
    # Share of the server's free ordinary slots a raised role/database limit may take.
    raise_share: float = 0.5
    # PgBouncer: clients queued this long (the oldest, maxwait) are worth a warning; this long
    # (or half of query_wait_timeout, whichever comes first) is critical.
    pooler_wait_warning_s: float = 1.0
    pooler_wait_critical_s: float = 5.0


DEFAULT_THRESHOLDS = Thresholds()
