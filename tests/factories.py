"""Builders for domain objects in unit tests: consistent Snapshots from a list of sessions.

`snapshot(sessions(...) + sessions(...), role_limits={"app_user": 20})` derives what the
diagnostics layer would: groups, per-role and per-database counts, the oldest-session lists
(cut to `oldest_listed`, as the real snapshot is), client and superuser backend counts.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from bot.diagnostics.model import (
    DatabaseUsage,
    RoleUsage,
    Session,
    SessionFeature,
    SessionGroup,
    Settings,
    Snapshot,
)
from bot.pgbouncer.model import (
    Pool,
    PoolerConfig,
    PoolerConnection,
    PoolerDatabase,
    PoolerLists,
    PoolerSnapshot,
    PoolerUser,
)
from bot.playbooks import PlaybookSet, load_playbooks
from bot.signals.model import Signal, SignalKind
from bot.triage.model import Finding

NOW = datetime(2024, 5, 1, 3, 12, 9, tzinfo=UTC)
_pids = itertools.count(1000)


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "max_connections": 100,
        "superuser_reserved_connections": 3,
        "reserved_connections": 0,
        "idle_in_transaction_session_timeout_ms": 0,
        "idle_session_timeout_ms": 0,
        "statement_timeout_ms": 0,
        "tcp_keepalives_idle_s": 0,
        "tcp_keepalives_interval_s": 0,
        "tcp_keepalives_count": 0,
        "max_wal_senders": 10,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def session(
    *,
    role: str | None = "app_user",
    database: str | None = "appdb",
    application: str = "checkout",
    client: str = "10.0.3.4",
    state: str | None = "idle",
    age_s: float | None = 900.0,
    xact_age_s: float | None = None,
    query: str | None = "SELECT 1",
    pid: int | None = None,
) -> Session:
    """One client backend, `age_s` seconds in its state at NOW. `state=None`: hidden."""
    state_change = NOW - timedelta(seconds=age_s) if age_s is not None else None
    in_tx = state is not None and state.startswith("idle in transaction")
    if in_tx and xact_age_s is None:
        xact_age_s = age_s
    return Session(
        pid=pid if pid is not None else next(_pids),
        role=role,
        database=database,
        application=application,
        client=client,
        state=state,
        backend_start=NOW - timedelta(seconds=(age_s or 0) + 60),
        state_change=state_change if state is not None else None,
        xact_start=NOW - timedelta(seconds=xact_age_s) if xact_age_s is not None else None,
        state_age_s=age_s if state is not None else None,
        xact_age_s=xact_age_s,
        wait_event=None,
        query=query if state is not None else None,
    )


def sessions(n: int, **kwargs: object) -> list[Session]:
    return [session(**kwargs) for _ in range(n)]  # type: ignore[arg-type]


def _groups(all_sessions: Sequence[Session]) -> tuple[SessionGroup, ...]:
    counts: Counter[tuple[str | None, str | None, str, str, str | None]] = Counter()
    oldest: dict[tuple[str | None, str | None, str, str, str | None], datetime] = {}
    for s in all_sessions:
        key = (s.role, s.database, s.application, s.client, s.state)
        counts[key] += 1
        if s.state_change and (key not in oldest or s.state_change < oldest[key]):
            oldest[key] = s.state_change
    return tuple(
        SessionGroup(k[0], k[1], k[2], k[3], k[4], n, oldest.get(k))
        for k, n in counts.most_common()
    )


def _oldest(all_sessions: Sequence[Session], state: str, cut: int) -> tuple[Session, ...]:
    found = [s for s in all_sessions if s.state == state and s.state_change is not None]
    found.sort(key=lambda s: s.state_change or NOW)
    return tuple(found[:cut])


def snapshot(
    all_sessions: Iterable[Session] = (),
    *,
    role_limits: Mapping[str, int] | None = None,
    database_limits: Mapping[str, int] | None = None,
    superusers: Iterable[str] = (),
    version: int = 160002,
    oldest_listed: int = 10,
    monitoring_role: str = "pgconn_mon",
    can_use_reserved: bool = True,
    blind_spots: Sequence[str] = (),
    cluster: str = "prod",
    monitoring_superuser: bool = False,
    session_features: Sequence[SessionFeature] = (),
    **setting_overrides: object,
) -> Snapshot:
    listed = list(all_sessions)
    if version < 160000:
        setting_overrides.setdefault("reserved_connections", None)
    if version < 140000:
        setting_overrides.setdefault("idle_session_timeout_ms", None)
    supers = set(superusers)
    limits = dict(role_limits or {})
    by_role = Counter(s.role for s in listed)
    by_db = Counter(s.database for s in listed)
    role_names = sorted(set(limits) | {r for r in by_role if r is not None} | supers)
    db_limits = dict(database_limits or {})
    db_names = sorted(set(db_limits) | {d for d in by_db if d is not None})
    return Snapshot(
        cluster=cluster,
        server_version_num=version,
        server_version=f"{version // 10000}.{version % 100}",
        taken_at=NOW,
        settings=settings(**setting_overrides),
        client_backends=len(listed),
        superuser_backends=sum(1 for s in listed if s.role in supers),
        roles=tuple(
            RoleUsage(name, limits.get(name, -1), by_role.get(name, 0), name in supers, True)
            for name in role_names
        ),
        databases=tuple(
            DatabaseUsage(name, db_limits.get(name, -1), by_db.get(name, 0), True)
            for name in db_names
        ),
        groups=_groups(listed),
        oldest_idle=_oldest(listed, "idle", oldest_listed),
        oldest_idle_in_transaction=_oldest(listed, "idle in transaction", oldest_listed),
        monitoring_role=monitoring_role,
        monitoring_can_use_reserved=can_use_reserved,
        blind_spots=tuple(blind_spots),
        monitoring_superuser=monitoring_superuser,
        session_features=tuple(session_features),
    )


def signal(kind: SignalKind | str, **kwargs: object) -> Signal:
    return Signal(kind=SignalKind(kind), **kwargs)  # type: ignore[arg-type]


@cache
def repo_playbooks() -> PlaybookSet:
    """The repository's playbooks, loaded once."""
    return load_playbooks()


# --- PgBouncer ------------------------------------------------------------------------------


def pool(
    database: str = "appdb",
    user: str = "app_user",
    *,
    cl_active: int = 0,
    cl_waiting: int = 0,
    sv_active: int = 0,
    sv_idle: int = 0,
    sv_used: int = 0,
    sv_login: int = 0,
    maxwait_s: float = 0.0,
    pool_mode: str | None = "transaction",
) -> Pool:
    return Pool(
        database,
        user,
        cl_active,
        cl_waiting,
        sv_active,
        sv_idle,
        sv_used,
        0,
        sv_login,
        maxwait_s,
        pool_mode,
    )


def pooler_config(**overrides: object) -> PoolerConfig:
    values: dict[str, object] = {
        "max_client_conn": 100,
        "default_pool_size": 20,
        "min_pool_size": 0,
        "reserve_pool_size": 0,
        "reserve_pool_timeout_s": 5.0,
        "pool_mode": "transaction",
        "max_db_connections": 0,
        "max_user_connections": 0,
        "query_wait_timeout_s": 120.0,
        "server_login_retry_s": 15.0,
        "client_idle_timeout_s": 0.0,
        "server_idle_timeout_s": 600.0,
        "idle_transaction_timeout_s": 0.0,
        "server_reset_query": "DISCARD ALL",
        "server_reset_query_always": False,
    }
    values.update(overrides)
    return PoolerConfig(**values)  # type: ignore[arg-type]


def pooler_client(
    user: str = "app_user",
    database: str = "appdb",
    *,
    state: str = "active",
    addr: str = "10.0.3.4",
    app: str = "checkout",
) -> PoolerConnection:
    return PoolerConnection("client", user, database, state, addr, 40000, app, 0.0, None, False)


def pooler_server(
    pid: int, user: str = "app_user", database: str = "appdb", *, state: str = "idle"
) -> PoolerConnection:
    return PoolerConnection(
        "server", user, database, state, "10.0.9.9", 5432, "", 0.0, pid, state == "active"
    )


def pooler_snapshot(
    pools: Sequence[Pool] | None = None,
    *,
    clients: Sequence[PoolerConnection] = (),
    servers: Sequence[PoolerConnection] = (),
    databases: Sequence[PoolerDatabase] | None = None,
    users: Sequence[PoolerUser] = (),
    used_clients: int | None = None,
    db_max_connections: int = 0,
    **config: object,
) -> PoolerSnapshot:
    """A PgBouncer reading: one database entry per pool database (its pool_size the default
    unless given), `used_clients` the clients plus pgconn's own console connection."""
    cfg = pooler_config(**config)
    listed = list(pools if pools is not None else [pool(cl_active=5, sv_active=2, sv_idle=3)])
    if databases is None:
        databases = [
            PoolerDatabase(
                name,
                "10.0.9.9",
                5432,
                name,
                None,
                cfg.default_pool_size,
                cfg.reserve_pool_size,
                None,
                db_max_connections,
                sum(p.servers for p in listed if p.database == name),
                False,
                False,
            )
            for name in sorted({p.database for p in listed})
        ]
    return PoolerSnapshot(
        version="1.18.0",
        taken_at=NOW,
        config=cfg,
        pools=tuple(listed),
        clients=tuple(clients),
        servers=tuple(servers),
        databases=tuple(databases),
        users=tuple(users),
        lists=PoolerLists(
            used_clients=len(clients) + 1 if used_clients is None else used_clients,
            login_clients=0,
            used_servers=sum(p.servers for p in listed),
            pools=len(listed),
        ),
    )


def said(finding: Finding) -> tuple[str, ...]:
    """Everything a finding says: its evidence, then its Prevent advice."""
    return (*finding.evidence, *(finding.playbook.prevent if finding.playbook else ()))
