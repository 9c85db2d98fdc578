"""Pasted tables and settings: pg_stat_activity rows, SHOW / pg_settings output.

    read(text, signals, cluster=None) -> Pasted | None

Pure (no psycopg): `pgconn explain` of a paste stays light. The CLI and the Slack bot both
call `read` on the text they triage, and give its snapshot to triage when there is no live one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.diagnostics.model import Snapshot
from bot.pasted.activity import build, is_activity
from bot.pasted.settings import read_settings
from bot.pasted.tables import Table, find_tables
from bot.signals.model import Signal

__all__ = ["Pasted", "Table", "find_tables", "read"]


@dataclass(frozen=True, slots=True)
class Pasted:
    """What a paste showed beyond error lines. `snapshot` is None when it had settings but no
    pg_stat_activity rows; `notes` say what came from the paste, what was missing or assumed."""

    snapshot: Snapshot | None
    settings: dict[str, str]
    notes: tuple[str, ...]


def read(text: str, found: Sequence[Signal] = (), cluster: str | None = None) -> Pasted | None:
    if "|" not in text and "," not in text and "{" not in text:
        return None  # cheap exit: no table form without one of these
    tables = find_tables(text)
    if not tables:
        return None
    settings = read_settings(tables)
    activity = [t for t in tables if is_activity(t)]
    if activity:
        snapshot, notes = build(max(activity, key=lambda t: len(t.rows)), settings, found,
                                cluster=cluster)  # fmt: skip
        return Pasted(snapshot, settings, tuple(notes))
    if settings:
        shown = ", ".join(f"{k} = {v}" for k, v in settings.items())
        return Pasted(None, settings, (f"From the paste: {shown}.",))
    return None
