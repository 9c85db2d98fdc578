"""The room left after a fix, read from a fresh diagnosis: the role's, the database's and the
server's free connection slots, from the one headroom model every report uses."""

from __future__ import annotations

from bot.diagnostics.model import Snapshot
from bot.headroom import Headroom
from bot.remediation.model import Proposal


def _line(label: str, room: Headroom) -> str:
    return f"{label}: {room.figures()}"


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
    lines = [_line(f'role "{name}"', snap.role_headroom(name)) for name in sorted(roles)]
    lines += [
        _line(f'database "{name}"', snap.database_headroom(name)) for name in sorted(databases)
    ]
    lines.append(_line("server slots for ordinary roles", snap.server_headroom()))
    return tuple(lines)
