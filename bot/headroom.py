"""One model of connection headroom, read by every report, `check`, `list`, warning and result.

A limit (the server's max_connections, a role's or a database's CONNECTION LIMIT) is shared by
everyone's sessions and pgconn's own. pgconn's sessions are never counted as used: the slots
they hold in the limited range are taken out of `usable` instead, and a pgconn session that sits
in a reserved slot (the server was full when it connected) takes nothing from it. So, always:

    used + free = usable,  nothing negative,  share = used / usable.

Sessions beyond `usable` (superusers eating the reserved slots, a limit lowered below what is
already connected) are `over`, shown beside the figures rather than folded into them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scope(StrEnum):
    SERVER = "server"
    ROLE = "role"
    DATABASE = "database"


@dataclass(frozen=True, slots=True)
class Headroom:
    """`limit`: max_connections or CONNECTION LIMIT (None: no limit applies). `reserved`: slots
    of it kept from ordinary roles (superuser_reserved_connections + reserved_connections).
    `own`: pgconn's sessions that count against the limit, `own_reserved` of them beyond the
    ordinary range. `sessions`: everyone else's."""

    scope: Scope
    name: str
    limit: int | None
    reserved: int
    own: int
    own_reserved: int
    sessions: int
    usable: int | None
    used: int
    free: int | None
    over: int

    @classmethod
    def of(
        cls, scope: Scope, name: str, limit: int | None, sessions: int, own: int, reserved: int = 0
    ) -> Headroom:
        sessions = max(sessions, 0)
        own = max(own, 0)
        if limit is None or limit < 0:
            return cls(scope, name, None, 0, own, 0, sessions, None, sessions, None, 0)
        reserved = min(max(reserved, 0), limit)
        ordinary = limit - reserved
        own_ordinary = min(own, max(ordinary - sessions, 0))
        usable = ordinary - own_ordinary
        used = min(sessions, usable)
        return cls(
            scope,
            name,
            limit,
            reserved,
            own,
            own - own_ordinary,
            sessions,
            usable,
            used,
            usable - used,
            sessions - used,
        )

    @property
    def limited(self) -> bool:
        return self.usable is not None

    @property
    def share(self) -> float:
        """used / usable; a limit with no usable slot is full."""
        if self.usable is None:
            return 0.0
        if self.usable == 0:
            return 1.0
        return self.used / self.usable

    @property
    def percent(self) -> int:
        return round(self.share * 100)

    @property
    def full(self) -> bool:
        return self.free == 0

    @property
    def total(self) -> int:
        """Every session counted against the limit, pgconn's included: what the server sees."""
        return self.sessions + self.own

    def figures(self) -> str:
        """`7 of 26 used (27%), 19 free`: the figure every output shows."""
        if self.usable is None:
            return f"{self.used} connected, no limit"
        text = f"{self.used} of {self.usable} used ({self.percent}%), {self.free} free"
        if self.over:
            text += f", {self.over} more beyond the limit"
        return text

    def short(self) -> str:
        """`7/26 (27%)` for tables and alerts."""
        if self.usable is None:
            return f"{self.used} (no limit)"
        over = f" +{self.over}" if self.over else ""
        return f"{self.used}/{self.usable}{over} ({self.percent}%)"

    def basis(self) -> str:
        """How `usable` follows from the limit, for the reader who checks the arithmetic."""
        if self.limit is None:
            return ""
        what = "max_connections" if self.scope is Scope.SERVER else "CONNECTION LIMIT"
        parts = [f"{what} {self.limit}"]
        if self.reserved:
            parts.append(f"{self.reserved} reserved")
        own_ordinary = self.own - self.own_reserved
        if own_ordinary:
            parts.append(f"{own_ordinary} held by pgconn")
        text = f"usable {self.usable} = " + " − ".join(parts)
        if self.own_reserved:
            n = self.own_reserved
            text += (
                "; pgconn's own session sits in a reserved slot"
                if n == 1
                else f"; pgconn's own {n} sessions sit in reserved slots"
            )
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "scope": self.scope.value,
            "name": self.name,
            "limit": self.limit,
            "reserved": self.reserved,
            "usable": self.usable,
            "used": self.used,
            "free": self.free,
            "over": self.over,
            "own": self.own,
            "own_reserved": self.own_reserved,
            "share": round(self.share, 4),
        }
