"""Read-only live diagnostics: one connection, one round trip, one typed Snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from bot.diagnostics.connection import connect_readonly
from bot.diagnostics.model import Snapshot
from bot.diagnostics.snapshot import take_snapshot

__all__ = ["Snapshot", "connect_readonly", "diagnose", "take_snapshot"]


def diagnose(dsn: str, cluster: str, *, secrets: Iterable[str] = ()) -> Snapshot:
    """Connect, take one snapshot, disconnect. Raises CannotConnectError or DiagnosticsError."""
    with connect_readonly(dsn, secrets=secrets) as conn:
        return take_snapshot(conn, cluster)
