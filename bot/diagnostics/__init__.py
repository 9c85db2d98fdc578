"""Read-only live diagnostics: one connection, one round trip, one typed Snapshot.

`diagnose` opens a connection per call (the one-shot CLI); `Keepers` keeps one per cluster
open between calls (a long-running bot), so pgconn holds its slot before a server fills up.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.diagnostics.connection import connect_readonly
from bot.diagnostics.deadline import bounded
from bot.diagnostics.keeper import Backoff, Keeper, Keepers
from bot.diagnostics.model import Snapshot
from bot.diagnostics.snapshot import take_snapshot

__all__ = [
    "Backoff",
    "Keeper",
    "Keepers",
    "Snapshot",
    "connect_readonly",
    "diagnose",
    "take_snapshot",
]


def diagnose(
    dsn: str, cluster: str, *, secrets: Iterable[str] = (), pooled: bool = False
) -> Snapshot:
    """Connect, take one snapshot, disconnect. Raises CannotConnectError or DiagnosticsError.
    `pooled`: the cluster sits behind a pooler; also read the session state it would leak."""
    with connect_readonly(dsn, secrets=secrets) as conn, bounded(conn, what=cluster):
        return take_snapshot(conn, cluster, pooled=pooled)
