"""What a probe saw and what the rules make of it: frozen, typed, no raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.headroom import Headroom
from bot.warnings.trend import Trend


class EntityKind(StrEnum):
    SERVER = "server"
    ROLE = "role"
    DATABASE = "database"
    POOLER = "pooler"  # PgBouncer's clients against max_client_conn
    CLUSTER = "cluster"  # the cluster itself: reachability, not usage


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.OK: 0, Level.WARNING: 1, Level.CRITICAL: 2}


@dataclass(frozen=True, slots=True)
class Holder:
    """A group of sessions holding slots: who (application, client) and doing what (state;
    None where the monitoring role may not see it)."""

    application: str
    client: str
    state: str | None
    count: int


@dataclass(frozen=True, slots=True)
class Usage:
    """One limited entity: its client backends against its limit, and its biggest holders.

    For PostgreSQL entities `current` and `limit` are the headroom model's `used` and `usable`
    (`headroom`, the same figures a triage report shows): pgconn's own sessions are not
    counted, and the server's reserved slots are not usable.
    """

    kind: EntityKind
    name: str
    current: int
    limit: int
    idle: int
    idle_in_transaction: int
    holders: tuple[Holder, ...] = ()
    headroom: Headroom | None = None

    @property
    def share(self) -> float:
        if self.headroom is not None:
            return self.headroom.share
        if self.limit <= 0:
            return 1.0 if self.current else 0.0
        return self.current / self.limit

    @property
    def over(self) -> int:
        return self.headroom.over if self.headroom is not None else 0

    def short(self) -> str:
        """`7/26 (27%)`, as every output shows it."""
        if self.headroom is not None:
            return self.headroom.short()
        return f"{self.current}/{self.limit} ({round(self.share * 100)}%)"

    @property
    def label(self) -> str:
        """How people name it: `role app_user`, `database shop`, `server`."""
        if self.kind is EntityKind.SERVER:
            return "server"
        if self.kind is EntityKind.POOLER:
            return "PgBouncer clients"
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True, slots=True)
class ServerLimits:
    max_connections: int
    superuser_reserved: int
    reserved: int | None  # reserved_connections, PostgreSQL 16+


@dataclass(frozen=True, slots=True)
class Probe:
    """One successful probe of a cluster at `taken_at` (epoch seconds, the bot's clock)."""

    cluster: str
    taken_at: float
    limits: ServerLimits
    usages: tuple[Usage, ...]

    def usage(self, kind: EntityKind, name: str = "") -> Usage | None:
        return next((u for u in self.usages if u.kind is kind and u.name == name), None)


@dataclass(frozen=True, slots=True)
class ProbeFailure:
    """A cluster that could not be probed, and why (passwords already masked)."""

    cluster: str
    at: float
    reason: str


ProbeOutcome = Probe | ProbeFailure


@dataclass(frozen=True, slots=True)
class Levels:
    """The shares at which an entity warns and is critical, and the hysteresis margin."""

    threshold: float
    critical: float
    margin: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One entity after the rules: its usage, its level and where it is heading."""

    usage: Usage
    level: Level
    levels: Levels
    trend: Trend


@dataclass(frozen=True, slots=True)
class ClusterResult:
    """One cluster in one round: the probe (or why there is none) and every entity's level."""

    cluster: str
    outcome: ProbeOutcome
    evaluations: tuple[Evaluation, ...] = ()

    @property
    def reachable(self) -> bool:
        return isinstance(self.outcome, Probe)

    @property
    def worst(self) -> Level:
        return max((e.level for e in self.evaluations), key=lambda lv: lv.rank, default=Level.OK)
