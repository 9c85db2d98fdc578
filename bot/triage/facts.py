"""The values a playbook's templates can use, one typed record per kind of finding.

Every finding gets the server-wide `ServerFacts`; a code may add one more record (`FACTS_BY_CODE`).
The field names are the template variables, and the playbook loader checks templates against
them at start-up, so a misspelt variable fails then, not during an incident. A value that is not
known (no live data, no room to give) is a `Placeholder`: text shows it as `<name>`, and the SQL
filters refuse it, so a statement that needs it is withheld instead of shown half-filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeAlias, TypeVar

from bot.diagnostics.model import Snapshot
from bot.triage.codes import FindingCode
from bot.triage.thresholds import Thresholds
from bot.triage.units import pg_interval


class Placeholder(str):
    """An unknown value, rendered as `<label>`."""

    __slots__ = ()

    def __new__(cls, label: str) -> Placeholder:
        return super().__new__(cls, f"<{label}>")


Num: TypeAlias = int | Placeholder
Text: TypeAlias = str | Placeholder


# Defaults of ServerFacts' pooler fields: no pooler configured, or it could not be read.
_NO_POOLER_POOL_MODE = Placeholder("pool mode")
_NO_DEFAULT_POOL_SIZE = Placeholder("default pool size")
_NO_RESERVE_POOL_SIZE = Placeholder("reserve pool size")
_NO_POOLER_CAPACITY = Placeholder("pooler capacity")
_NO_ROLE_POOLS = Placeholder("role pools")
_NO_ROLE_POOLER_CAPACITY = Placeholder("role pooler capacity")
_NO_ROLE_CONN_LIMIT = Placeholder("role limit")
_NO_ROLE_POOL_SIZE_FIT = Placeholder("pool size that fits")
_NO_ROLE_HOSTS = Placeholder("role hosts")
_NO_POOLER_CLIENT_HOSTS = Placeholder("pooler client hosts")
_NO_POOL_PER_HOST = Placeholder("pool per host")


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """What every playbook may use. Settings come from the live snapshot.

    `role` / `database` are the entity the finding is about (from the snapshot or the paste);
    `seen` is how often the paste showed the error (0: found from live data only) and `detail`
    what the signal carried beyond the entity (PgBouncer setting, pool numbers, 57P03 state).
    """

    cluster: Text
    live: bool
    version_major: Num
    max_connections: Num
    superuser_reserved_connections: Num
    reserved_connections: Num
    ordinary_slots: Num
    client_backends: Num
    ordinary_free: Num
    # The headroom model's figures for the server (pgconn's own sessions left out).
    server_used: Num
    server_usable: Num
    new_max_connections: Num
    idle_in_transaction_session_timeout_ms: Num
    idle_session_timeout_ms: Num
    tcp_keepalives_idle_s: Num
    max_wal_senders: Num
    monitoring_role: Text
    monitoring_can_use_reserved: bool | Placeholder
    role: Text
    database: Text
    seen: int
    detail: Text
    idle_min_age_s: int
    idle_min_age: str
    idle_tx_min_age_s: int
    idle_tx_min_age: str
    idle_tx_timeout: str
    idle_session_timeout: str
    # PgBouncer in front of the cluster; `pooler` is False when none is configured or it could
    # not be read. `pooler_capacity`: server connections all pools together may open (pool
    # size + reserve_pool each); `role_pools`: the finding role's pools with their sizes;
    # `role_pool_size_fit`: the pool_size per pool that keeps them within its CONNECTION LIMIT.
    pooler: bool = False
    pooler_pool_mode: Text = _NO_POOLER_POOL_MODE
    default_pool_size: Num = _NO_DEFAULT_POOL_SIZE
    reserve_pool_size: Num = _NO_RESERVE_POOL_SIZE
    pooler_capacity: Num = _NO_POOLER_CAPACITY
    role_pools: Text = _NO_ROLE_POOLS
    role_pooler_capacity: Num = _NO_ROLE_POOLER_CAPACITY
    role_conn_limit: Num = _NO_ROLE_CONN_LIMIT
    role_pool_size_fit: Num = _NO_ROLE_POOL_SIZE_FIT
    # Distinct addresses of PgBouncer's clients logged in as the finding's role: an estimate
    # of the application's replicas behind the pooler.
    pooler_client_hosts: Num = _NO_POOLER_CLIENT_HOSTS


@dataclass(frozen=True, slots=True)
class RoleFacts:
    """`role_hosts`: distinct client hosts of the role's sessions, an estimate of the
    application's replicas (unknown when clients are hidden); `role_pool_per_host`: the pool
    size per replica that keeps them all within the limit (unknown when not even 1 fits)."""

    role_limit: Num
    role_current: Num
    role_free: Num
    new_role_limit: Num
    role_active: Num
    role_idle: Num
    role_idle_in_transaction: Num
    role_hosts: Num = _NO_ROLE_HOSTS
    role_pool_per_host: Num = _NO_POOL_PER_HOST


@dataclass(frozen=True, slots=True)
class DatabaseFacts:
    database_limit: Num
    database_current: Num
    database_free: Num
    new_database_limit: Num


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """Sessions that have sat in one state too long: `sessions` of them (a lower bound when
    `sessions_exact` is False), mostly from `application` at `client`."""

    state: str
    sessions: Num
    sessions_exact: bool
    oldest_age_s: Num
    oldest_age: Text
    application: Text
    client: Text


@dataclass(frozen=True, slots=True)
class NotConfirmedFacts:
    """The paste reported `signal_kind` on `scope`; live numbers show `now_current`/`now_limit`."""

    signal_kind: str
    scope: str
    now_current: Num
    now_limit: Num


@dataclass(frozen=True, slots=True)
class PoolerFacts:
    """One PgBouncer pool (`pool` = database/user as PgBouncer names them) and the pooler-wide
    numbers. `new_pool_size` fits the waiting clients into what PostgreSQL has room for;
    `server_limit_*` is the max_db_connections or max_user_connections that holds the pool
    back; `session_features` names the session state seen on its server connections."""

    pool: Text
    pool_database: Text
    pool_user: Text
    pool_mode: Text
    pool_size: Num
    reserve_pool: Num
    pool_servers: Num
    clients_waiting: Num
    maxwait_s: Num
    new_pool_size: Num
    server_limit_name: Text
    server_limit: Num
    server_limit_current: Num
    client_connections: Num
    max_client_conn: Num
    new_max_client_conn: Num
    query_wait_timeout_s: Num
    session_features: Text


CodeFacts: TypeAlias = RoleFacts | DatabaseFacts | SessionFacts | NotConfirmedFacts | PoolerFacts

_F = TypeVar("_F", RoleFacts, DatabaseFacts, SessionFacts, NotConfirmedFacts, PoolerFacts)

FACTS_BY_CODE: Mapping[FindingCode, type[CodeFacts] | None] = {
    FindingCode.ROLE_LIMIT: RoleFacts,
    FindingCode.DATABASE_LIMIT: DatabaseFacts,
    FindingCode.MAX_CONNECTIONS: None,
    FindingCode.RESERVED_SLOTS: None,
    FindingCode.SERVER_NEAR_FULL: None,
    FindingCode.WALSENDER_LIMIT: None,
    FindingCode.IDLE_SESSIONS: SessionFacts,
    FindingCode.IDLE_IN_TRANSACTION: SessionFacts,
    FindingCode.POOLER_CLIENT_LIMIT: PoolerFacts,
    FindingCode.POOLER_WAIT_TIMEOUT: PoolerFacts,
    FindingCode.POOLER_CLIENTS_WAITING: PoolerFacts,
    FindingCode.POOLER_POOL_FULL: PoolerFacts,
    FindingCode.POOLER_SERVER_LIMIT: PoolerFacts,
    FindingCode.POOLER_SERVER_LOGIN: PoolerFacts,
    FindingCode.POOLER_SESSION_STATE: PoolerFacts,
    FindingCode.APP_POOL_TIMEOUT: None,
    FindingCode.SERVER_NOT_READY: None,
    FindingCode.NOT_CONFIRMED: NotConfirmedFacts,
}


def _unknown(name: str) -> Placeholder:
    return Placeholder(name.replace("_", " "))


def placeholders(cls: type[_F]) -> _F:
    """A record of the given kind with every value unknown (no live data)."""
    unknown: dict[str, Any] = {f.name: _unknown(f.name) for f in fields(cls)}
    return cls(**unknown)


def variables(code: FindingCode) -> frozenset[str]:
    """The template variables a finding with this code provides."""
    extra = FACTS_BY_CODE[code]
    names = [f.name for f in fields(ServerFacts)]
    if extra is not None:
        names += [f.name for f in fields(extra)]
    return frozenset(names)


def context(server: ServerFacts, extra: CodeFacts | None) -> dict[str, object]:
    """The template context: the fields of both records, by name."""
    ctx: dict[str, object] = {f.name: getattr(server, f.name) for f in fields(server)}
    if extra is not None:
        ctx.update({f.name: getattr(extra, f.name) for f in fields(extra)})
    return ctx


def raised_limit(limit: int, server_free: Num, share: float) -> Num:
    """A new CONNECTION LIMIT: a quarter more (at least 2), but never more than `share` of the
    server's free ordinary slots, so raising one role cannot starve the others."""
    if isinstance(server_free, Placeholder):
        return Placeholder("new limit")
    step = min(max(2, -(-limit // 4)), int(server_free * share))
    return limit + step if step >= 1 else Placeholder("new limit: no free server slots to give")


def server_facts(
    snapshot: Snapshot | None,
    thresholds: Thresholds,
    *,
    cluster: str | None,
    role: str | None = None,
    database: str | None = None,
    seen: int = 0,
    detail: str | None = None,
) -> ServerFacts:
    t = thresholds
    # Typed by the dataclass that receives them.
    common: dict[str, Any] = {
        "cluster": cluster or Placeholder("cluster"),
        "role": role if role is not None else Placeholder("role"),
        "database": database if database is not None else Placeholder("database"),
        "seen": seen,
        "detail": detail or Placeholder("detail"),
        "idle_min_age_s": t.idle_min_age_s,
        "idle_min_age": pg_interval(t.idle_min_age_s),
        "idle_tx_min_age_s": t.idle_tx_min_age_s,
        "idle_tx_min_age": pg_interval(t.idle_tx_min_age_s),
        "idle_tx_timeout": t.idle_tx_timeout,
        "idle_session_timeout": t.idle_session_timeout,
    }
    if snapshot is None:
        # Fields with a default (the pooler's) keep it: they are filled in separately.
        unknown: dict[str, Any] = {
            f.name: _unknown(f.name)
            for f in fields(ServerFacts)
            if f.name not in common and f.name != "live" and f.default is MISSING
        }
        return ServerFacts(live=False, **unknown, **common)
    s = snapshot.settings
    room = snapshot.server_headroom()
    # Room for a quarter more, rounded up to ten: a restart is costly, so ask once.
    new_max = -(-(s.max_connections * 5 // 4) // 10) * 10
    return ServerFacts(
        live=True,
        version_major=snapshot.server_version_num // 10000,
        max_connections=s.max_connections,
        superuser_reserved_connections=s.superuser_reserved_connections,
        reserved_connections=s.reserved_connections or 0,
        ordinary_slots=s.ordinary_slots,
        client_backends=snapshot.client_backends,
        ordinary_free=snapshot.ordinary_free,
        server_used=room.used,
        server_usable=room.usable if room.usable is not None else Placeholder("server usable"),
        new_max_connections=new_max,
        idle_in_transaction_session_timeout_ms=s.idle_in_transaction_session_timeout_ms,
        idle_session_timeout_ms=s.idle_session_timeout_ms or 0,
        tcp_keepalives_idle_s=s.tcp_keepalives_idle_s,
        max_wal_senders=s.max_wal_senders,
        monitoring_role=snapshot.monitoring_role,
        monitoring_can_use_reserved=snapshot.monitoring_can_use_reserved,
        **common,
    )
