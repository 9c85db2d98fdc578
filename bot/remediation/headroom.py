"""The room left after a fix, read from a fresh diagnosis: the role's, the database's and the
server's free connection slots."""

from __future__ import annotations

from bot.diagnostics.model import Snapshot
from bot.remediation.model import Proposal


def _usage(kind: str, name: str, current: int, limit: int) -> str:
    if limit < 0:
        return f'{kind} "{name}": {current} connection(s), no CONNECTION LIMIT'
    return (
        f'{kind} "{name}": {current} of {limit} connection(s) in use, '
        f"{max(limit - current, 0)} free"
    )


def headroom(proposal: Proposal, snap: Snapshot) -> tuple[str, ...]:
    roles: set[str] = set()
    databases: set[str] = set()
    if proposal.criteria is not None:
        roles.update(r for r in (proposal.criteria.role,) if r)
        databases.update(d for d in (proposal.criteria.database,) if d)
        roles.update(t.role for t in proposal.targets if t.role)
        databases.update(t.database for t in proposal.targets if t.database)
    if proposal.change is not None:
        (roles if proposal.change.object_kind == "role" else databases).add(proposal.change.name)
    lines = []
    for name in sorted(roles):
        role = snap.role(name)
        lines.append(
            _usage("role", name, role.current if role else 0, role.conn_limit if role else -1)
        )
    for name in sorted(databases):
        db = snap.database(name)
        lines.append(_usage("database", name, db.current if db else 0, db.conn_limit if db else -1))
    slots = snap.settings.ordinary_slots
    lines.append(
        f"server: {snap.client_backends} of {slots} ordinary connection slot(s) in "
        f"use, {max(snap.ordinary_free, 0)} free"
    )
    return tuple(lines)
