"""Read-only live diagnostics: one connection, one round trip, one typed Snapshot.

`diagnose` opens a connection per call (the one-shot CLI); `Keepers` keeps one per cluster
open between calls (a long-running bot), so pgconn holds its slot before a server fills up.

The names below are imported on first use: code that only needs the typed model
(`bot.diagnostics.model`, as triage and rendering do) does not load psycopg with it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.diagnostics.connection import connect_readonly
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

_LAZY = {
    "connect_readonly": "bot.diagnostics.connection",
    "Backoff": "bot.diagnostics.keeper",
    "Keeper": "bot.diagnostics.keeper",
    "Keepers": "bot.diagnostics.keeper",
    "Snapshot": "bot.diagnostics.model",
    "take_snapshot": "bot.diagnostics.snapshot",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def diagnose(
    dsn: str, cluster: str, *, secrets: Iterable[str] = (), pooled: bool = False
) -> Snapshot:
    """Connect, take one snapshot, disconnect. Raises CannotConnectError or DiagnosticsError.
    `pooled`: the cluster sits behind a pooler; also read the session state it would leak."""
    from bot.diagnostics.connection import connect_readonly
    from bot.diagnostics.deadline import bounded
    from bot.diagnostics.snapshot import take_snapshot

    with connect_readonly(dsn, secrets=secrets) as conn, bounded(conn, what=cluster):
        return take_snapshot(conn, cluster, pooled=pooled)
