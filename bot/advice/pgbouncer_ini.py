"""A PgBouncer configuration to adopt, computed from what the server holds now.

Given when no pooler is configured in front of a full or near-full server or role: every
(role, database) pair seen gets a share of 80 % of the ordinary slots (the rest stays for
administrators and clients that bypass the pooler), a fifth of it as reserve; max_client_conn
leaves room for twice today's clients. What transaction mode breaks is said beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.diagnostics.model import Snapshot
from bot.pgbouncer.model import PoolerSnapshot
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft

SHARE = 0.8
_CODES = (
    FindingCode.MAX_CONNECTIONS,
    FindingCode.RESERVED_SLOTS,
    FindingCode.SERVER_NEAR_FULL,
    FindingCode.ROLE_LIMIT,
    FindingCode.DATABASE_LIMIT,
)
BREAKS = (
    "Transaction mode hands a server connection to another client after each transaction, so "
    "session state does not follow the client: SET (use SET LOCAL inside the transaction), "
    "LISTEN, session advisory locks, temporary tables and WITH HOLD cursors across "
    "transactions; protocol-level prepared statements need max_prepared_statements "
    "(PgBouncer 1.21+)."
)


@dataclass(frozen=True, slots=True)
class Fragment:
    settings: dict[str, str]
    users: dict[str, str]

    def text(self) -> str:
        lines = ["[pgbouncer]", *(f"{k} = {v}" for k, v in self.settings.items())]
        if self.users:
            lines += ["[users]", *(f"{k} = {v}" for k, v in self.users.items())]
        return "; ".join(lines)


def fragment(snapshot: Snapshot) -> Fragment | None:
    usable = snapshot.server_headroom().usable
    pairs = {(g.role, g.database) for g in snapshot.groups if g.role and g.database}
    if usable is None or not pairs:
        return None
    budget = max(int(usable * SHARE), len(pairs))
    per_pair = budget // len(pairs)
    reserve = per_pair // 5
    clients = max(snapshot.client_backends * 2, 100)
    settings = {
        "pool_mode": "transaction",
        "default_pool_size": str(max(per_pair - reserve, 1)),
        "reserve_pool_size": str(reserve),
        "max_client_conn": str(-(-clients // 100) * 100),
        "max_db_connections": str(budget),
    }
    users = {
        r.name: f"max_user_connections={r.conn_limit}"
        for r in snapshot.roles
        if r.conn_limit >= 0 and not r.superuser and any(role == r.name for role, _ in pairs)
    }
    return Fragment(settings, users)


def advise(
    drafts: Sequence[Draft], snapshot: Snapshot | None, pooler: PoolerSnapshot | None
) -> None:
    """On the first full or near-full limit, when no pooler is in front: the fragment."""
    if pooler is not None or snapshot is None:
        return
    target = next((d for d in drafts if d.code in _CODES), None)
    frag = fragment(snapshot)
    if target is None or frag is None:
        return
    pairs = len({(g.role, g.database) for g in snapshot.groups if g.role and g.database})
    target.advice.append(
        f"A PgBouncer to put in front (pgbouncer.ini, from the {pairs} role/database pair(s) "
        f"and {snapshot.server_headroom().usable} ordinary slots now): {frag.text()}. {BREAKS}"
    )
