"""The one sentence a report opens with: what is full, how full, and the top cause."""

from __future__ import annotations

from collections.abc import Sequence

from bot.diagnostics.model import Snapshot
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft

LIMIT_CODES = (
    FindingCode.ROLE_LIMIT,
    FindingCode.DATABASE_LIMIT,
    FindingCode.MAX_CONNECTIONS,
    FindingCode.RESERVED_SLOTS,
)


def headline(
    drafts: Sequence[Draft],
    snapshot: Snapshot | None,
    cluster: str | None,
    focus_role: str | None,
    had_signals: bool,
) -> str:
    """`drafts` are ranked: the first one is what the sentence is about."""
    if drafts:
        top = drafts[0]
        opening = top.headline or top.title
        if top.cause:
            return f"{opening}: {top.cause}."
        if snapshot is None and top.code in LIMIT_CODES:
            return f"{opening} — no live data to say why."
        return f"{opening}."
    if snapshot is None:
        if had_signals:
            return "The paste shows no connection-limit error, and there is no live data."
        return "No connection-limit error recognised, and no live data to check."
    on = f" on {cluster}" if cluster else ""
    if focus_role is not None:
        r = snapshot.role(focus_role)
        if r is None:
            return f"Role {focus_role} does not exist{on} (wrong cluster?)."
        room = snapshot.role_headroom(focus_role)
        if room.limited:
            return f"Role {focus_role} has room{on}: {room.figures()}."
        return f"Role {focus_role} holds {r.current} connection(s){on}; it has no limit of its own."
    room = snapshot.server_headroom()
    return (
        f"Nothing is near a connection limit{on}: {room.used} of {room.usable} server slots "
        f"used ({room.percent}%), {room.free} free."
    )
