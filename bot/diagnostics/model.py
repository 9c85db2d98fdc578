"""A read-only snapshot of one cluster's connection state. Frozen, typed, no raw rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.headroom import Headroom, Scope


@dataclass(frozen=True, slots=True)
class Settings:
    """Server settings that matter for connection exhaustion. Durations in milliseconds; 0 = off.

    `reserved_connections` and `idle_session_timeout` are None on versions without them.
    """

    max_connections: int
    superuser_reserved_connections: int
    reserved_connections: int | None
    idle_in_transaction_session_timeout_ms: int
    idle_session_timeout_ms: int | None
    statement_timeout_ms: int
    tcp_keepalives_idle_s: int
    tcp_keepalives_interval_s: int
    tcp_keepalives_count: int
    max_wal_senders: int

    @property
    def ordinary_slots(self) -> int:
        """Slots a role without SUPERUSER or pg_use_reserved_connections may take."""
        return (
            self.max_connections
            - self.superuser_reserved_connections
            - (self.reserved_connections or 0)
        )


@dataclass(frozen=True, slots=True)
class RoleUsage:
    """A role with a CONNECTION LIMIT (-1 = none) and its current backends, pgconn's excluded."""

    name: str
    conn_limit: int
    current: int
    superuser: bool
    can_login: bool


@dataclass(frozen=True, slots=True)
class DatabaseUsage:
    name: str
    conn_limit: int
    current: int
    allow_connections: bool


@dataclass(frozen=True, slots=True)
class SessionGroup:
    """Client backends grouped by who holds them. `state` is None where it was not visible."""

    role: str | None
    database: str | None
    application: str
    client: str
    state: str | None
    count: int
    oldest_state_change: datetime | None


@dataclass(frozen=True, slots=True)
class Session:
    """One client backend, as needed for evidence and for targeting a remediation exactly."""

    pid: int
    role: str | None
    database: str | None
    application: str
    client: str
    state: str | None
    backend_start: datetime
    state_change: datetime | None
    xact_start: datetime | None
    state_age_s: float | None
    xact_age_s: float | None
    wait_event: str | None
    query: str | None


@dataclass(frozen=True, slots=True)
class SessionFeature:
    """Session state an idle backend carries into its next transaction: `kind` is `listen`,
    `set`, `prepare` or `advisory_lock`; `name` the channel, setting or statement, when the
    command names one. Matters when a transaction-mode pooler shares the backend."""

    pid: int
    role: str | None
    database: str | None
    kind: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one diagnosis saw, taken in one round trip at `taken_at` (server clock).

    `client_backends` counts every client backend (they all use max_connections slots) except
    pgconn's own, which `own_sessions` lists as (role, database); None when not read, taken
    as the one diagnostics session of the monitoring role. `blind_spots` says, in plain words,
    what the monitoring role could not see.
    """

    cluster: str
    server_version_num: int
    server_version: str
    taken_at: datetime
    settings: Settings
    client_backends: int
    superuser_backends: int
    roles: tuple[RoleUsage, ...]
    databases: tuple[DatabaseUsage, ...]
    groups: tuple[SessionGroup, ...]
    oldest_idle: tuple[Session, ...]
    oldest_idle_in_transaction: tuple[Session, ...]
    monitoring_role: str
    monitoring_can_use_reserved: bool
    blind_spots: tuple[str, ...] = field(default=())
    monitoring_superuser: bool = False
    # Read only when a pooler is configured (empty otherwise).
    session_features: tuple[SessionFeature, ...] = ()
    own_sessions: tuple[tuple[str | None, str | None], ...] | None = None

    @property
    def own(self) -> tuple[tuple[str | None, str | None], ...]:
        if self.own_sessions is None:
            return ((self.monitoring_role, None),)
        return self.own_sessions

    def server_headroom(self) -> Headroom:
        s = self.settings
        return Headroom.of(
            Scope.SERVER,
            "",
            s.max_connections,
            self.client_backends,
            len(self.own),
            reserved=s.max_connections - s.ordinary_slots,
        )

    def role_headroom(self, name: str) -> Headroom:
        """A role's CONNECTION LIMIT (none for superusers, which it does not bind)."""
        r = self.role(name)
        limit = r.conn_limit if r is not None and not r.superuser else None
        own = sum(1 for role, _ in self.own if role == name)
        return Headroom.of(Scope.ROLE, name, limit, r.current if r else 0, own)

    def database_headroom(self, name: str) -> Headroom:
        d = self.database(name)
        own = sum(1 for _, db in self.own if db == name)
        return Headroom.of(
            Scope.DATABASE, name, d.conn_limit if d else None, d.current if d else 0, own
        )

    @property
    def ordinary_free(self) -> int:
        """Slots still free for ordinary roles: the server headroom's `free`."""
        return self.server_headroom().free or 0

    @property
    def over_reserved(self) -> int:
        """Sessions beyond the ordinary slots (superusers eating the reserve)."""
        return self.server_headroom().over

    def role(self, name: str) -> RoleUsage | None:
        return next((r for r in self.roles if r.name == name), None)

    def database(self, name: str) -> DatabaseUsage | None:
        return next((d for d in self.databases if d.name == name), None)
