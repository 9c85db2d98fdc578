"""PgBouncer: read its admin console into a typed PoolerSnapshot, and measure how full it is.

    read_pooler(dsn)           -> PoolerSnapshot   (connect, SHOW ..., disconnect)
    connect_console(dsn)       -> an open console connection (for a kept connection)
    take_pooler_snapshot(conn) -> PoolerSnapshot
    pooler_levels(snapshot)    -> PoolerLevels     (pure: for the warnings scheduler)

Findings drawn from a snapshot live in `bot.triage.pooler`. The names are imported on first
use, so the typed model (`bot.pgbouncer.model`) comes without psycopg.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.pgbouncer.console import (
        COMMANDS,
        build_pooler_snapshot,
        connect_console,
        read_pooler,
        take_pooler_snapshot,
    )
    from bot.pgbouncer.model import (
        Pool,
        PoolerConfig,
        PoolerConnection,
        PoolerDatabase,
        PoolerLists,
        PoolerSnapshot,
        PoolerUser,
    )
    from bot.pgbouncer.usage import PoolerLevels, PoolLevel, pooler_levels

__all__ = [
    "COMMANDS",
    "Pool",
    "PoolLevel",
    "PoolerConfig",
    "PoolerConnection",
    "PoolerDatabase",
    "PoolerLevels",
    "PoolerLists",
    "PoolerSnapshot",
    "PoolerUser",
    "build_pooler_snapshot",
    "connect_console",
    "pooler_levels",
    "read_pooler",
    "take_pooler_snapshot",
]

_LAZY = {
    **dict.fromkeys(
        (
            "COMMANDS",
            "build_pooler_snapshot",
            "connect_console",
            "read_pooler",
            "take_pooler_snapshot",
        ),
        "bot.pgbouncer.console",
    ),
    **dict.fromkeys(
        (
            "Pool",
            "PoolerConfig",
            "PoolerConnection",
            "PoolerDatabase",
            "PoolerLists",
            "PoolerSnapshot",
            "PoolerUser",
        ),
        "bot.pgbouncer.model",
    ),
    **dict.fromkeys(("PoolerLevels", "PoolLevel", "pooler_levels"), "bot.pgbouncer.usage"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
