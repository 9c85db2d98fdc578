"""Pasted tables and settings: pg_stat_activity rows, SHOW / pg_settings output.

    read(text, signals, cluster=None) -> Pasted | None

Pure (no psycopg): `pgconn explain` of a paste stays light. The CLI and the Slack bot both
call `read` on the text they triage, and give its snapshot to triage when there is no live one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.diagnostics.model import Snapshot
from bot.pasted.activity import build, is_activity
from bot.pasted.pooler import build_pooler, read_ini
from bot.pasted.settings import read_settings
from bot.pasted.tables import Table, find_tables
from bot.signals.model import Signal

if TYPE_CHECKING:
    from bot.pgbouncer.model import PoolerSnapshot

__all__ = ["Pasted", "Table", "find_tables", "read"]


@dataclass(frozen=True, slots=True)
class Pasted:
    """What a paste showed beyond error lines. `snapshot` is None when it had settings but no
    pg_stat_activity rows; `pooler` what its PgBouncer tables or pgbouncer.ini showed; `notes`
    say what came from the paste, what was missing or assumed."""

    snapshot: Snapshot | None
    settings: dict[str, str]
    notes: tuple[str, ...]
    pooler: PoolerSnapshot | None = None


def read(text: str, found: Sequence[Signal] = (), cluster: str | None = None) -> Pasted | None:
    if "|" not in text and "," not in text and "{" not in text:
        return None  # cheap exit: no table form without one of these
    tables = find_tables(text)
    ini = read_ini(text) if "[pgbouncer]" in text else None
    if not tables and ini is None:
        return None
    settings = read_settings(tables)
    notes: list[str] = []
    snapshot = None
    activity = [t for t in tables if is_activity(t)]
    if activity:
        snapshot, shown = build(max(activity, key=lambda t: len(t.rows)), settings, found,
                                cluster=cluster)  # fmt: skip
        notes.extend(shown)
    elif settings:
        notes.append(
            "From the paste: " + ", ".join(f"{k} = {v}" for k, v in settings.items()) + "."
        )
    pooler = build_pooler(tables, ini)
    if pooler is not None:
        notes.extend(pooler[1])
    if snapshot is None and pooler is None and not settings:
        return None
    return Pasted(snapshot, settings, tuple(notes), pooler[0] if pooler else None)
