"""The state store: approvals, the append-only audit log, alert state, leases.

SQLite at `state_path` by default; PostgreSQL (`state_dsn`) when several replicas share state.
"""

from __future__ import annotations

from pathlib import Path

from bot.store.backend import Store
from bot.store.model import AlertState, ApprovalRequest, ApprovalStatus, AuditEntry

__all__ = ["AlertState", "ApprovalRequest", "ApprovalStatus", "AuditEntry", "Store", "open_store"]


def open_store(state_path: Path, state_dsn: str | None = None) -> Store:
    if state_dsn:
        from bot.store.postgres import PostgresStore

        return PostgresStore(state_dsn)
    from bot.store.sqlite import SqliteStore

    return SqliteStore(state_path)
