"""Who holds the slots: counts by state and by source, and the sessions stuck in one state.

Works on the Snapshot's groups (every client backend, grouped) and its oldest-session lists
(only the oldest few, so counts drawn from them can be lower bounds).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

# Types only: explaining a paste does not load the live side's models.
if TYPE_CHECKING:
    from bot.diagnostics.model import Session, SessionGroup


IDLE = "idle"
IDLE_IN_TRANSACTION = "idle in transaction"
_IDLE_IN_TRANSACTION_STATES = (IDLE_IN_TRANSACTION, "idle in transaction (aborted)")


@dataclass(frozen=True, slots=True)
class Scope:
    """Which sessions to look at: all, one role's, one database's, or both."""

    role: str | None = None
    database: str | None = None

    def holds(self, role: str | None, database: str | None) -> bool:
        return (self.role is None or role == self.role) and (
            self.database is None or database == self.database
        )


@dataclass(frozen=True, slots=True)
class StateCounts:
    """Sessions by state. `unknown` are those whose state the monitoring role cannot see."""

    total: int = 0
    active: int = 0
    idle: int = 0
    idle_in_transaction: int = 0
    unknown: int = 0

    @property
    def other(self) -> int:
        return self.total - self.active - self.idle - self.idle_in_transaction - self.unknown


def state_counts(groups: Iterable[SessionGroup], scope: Scope = Scope()) -> StateCounts:
    c: Counter[str] = Counter()
    for g in groups:
        if not scope.holds(g.role, g.database):
            continue
        c["total"] += g.count
        if g.state is None:
            c["unknown"] += g.count
        elif g.state == "active":
            c["active"] += g.count
        elif g.state == IDLE:
            c["idle"] += g.count
        elif g.state in _IDLE_IN_TRANSACTION_STATES:
            c["idle_in_transaction"] += g.count
    return StateCounts(**c)


@dataclass(frozen=True, slots=True)
class Holder:
    """Sessions from one (role, application, client)."""

    role: str | None
    application: str
    client: str
    count: int


def top_holders(
    groups: Iterable[SessionGroup], scope: Scope = Scope(), limit: int = 3
) -> tuple[Holder, ...]:
    c: Counter[tuple[str | None, str, str]] = Counter()
    for g in groups:
        if scope.holds(g.role, g.database):
            c[(g.role, g.application, g.client)] += g.count
    return tuple(Holder(r, a, cl, n) for (r, a, cl), n in c.most_common(limit))


@dataclass(frozen=True, slots=True)
class Stuck:
    """Sessions of a scope that have been in one state for longer than `min_age_s`.

    Drawn from the snapshot's list of the oldest sessions in that state. The list is cut, so
    `exact` is False when it may have left out more sessions past the threshold.
    """

    sessions: tuple[Session, ...]
    exact: bool

    @property
    def count(self) -> int:
        return len(self.sessions)

    @property
    def oldest_age_s(self) -> float:
        return max((s.state_age_s or 0.0) for s in self.sessions) if self.sessions else 0.0

    @property
    def pids(self) -> list[int]:
        return sorted(s.pid for s in self.sessions)

    def main_source(self) -> tuple[str, str, int] | None:
        """The (application, client) most of these sessions come from, and how many."""
        c = Counter((s.application, s.client) for s in self.sessions)
        if not c:
            return None
        (app, client), n = c.most_common(1)[0]
        return app, client, n

    @property
    def count_text(self) -> str:
        return str(self.count) if self.exact else f"at least {self.count}"


def stuck(
    oldest: Sequence[Session],
    groups: Iterable[SessionGroup],
    states: Sequence[str],
    min_age_s: float,
    scope: Scope = Scope(),
) -> Stuck:
    """`oldest` is the snapshot's list for one state; `groups` tell how many there are in all."""
    in_state = sum(g.count for g in groups if g.state in states)
    # The list holds the oldest sessions: if it has every session in that state, or if its
    # youngest entry is under the threshold, nothing past the threshold was left out.
    ages = [s.state_age_s for s in oldest if s.state_age_s is not None]
    exact = len(oldest) >= in_state or any(a <= min_age_s for a in ages)
    found = tuple(
        s
        for s in oldest
        if s.state_age_s is not None
        and s.state_age_s > min_age_s
        and scope.holds(s.role, s.database)
    )
    return Stuck(found, exact)


def describe_source(application: str, client: str) -> str:
    """`application "checkout" from 10.0.3.4`, leaving out what is unknown."""
    parts = []
    if application:
        parts.append(f'application "{application}"')
    if client == "local":
        parts.append("over the local socket")
    elif client and client != "?":
        parts.append(f"from {client}")
    return " ".join(parts) if parts else "from an unknown client"
