"""Findings from PgBouncer's console, read beside (or without) PostgreSQL's snapshot.

- `pooler_client_limit`: client connections near or at max_client_conn;
- per pool, the first that applies: `pooler_server_login` (PostgreSQL refuses the pool's
  server logins, so it cannot grow), `pooler_server_limit` (max_db_connections or
  max_user_connections holds it back: clients queue without any error), `pooler_clients_waiting`
  (clients queued, oldest for maxwait), `pooler_pool_full` (every server connection busy);
- `pooler_session_state`: session state on server connections of transaction/statement pools.

PgBouncer's console does not show failed server logins, so `pooler_server_login` is inferred:
PostgreSQL has no slot for the pool's role (live numbers, or a refusal in the paste) while the
pool has clients and fewer server connections than its size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.diagnostics.model import SessionFeature, Snapshot
from bot.pgbouncer.model import SHARED_MODES, Pool, PoolerSnapshot
from bot.signals.model import Signal, SignalKind
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.facts import Placeholder, PoolerFacts, server_facts
from bot.triage.model import Severity
from bot.triage.thresholds import Thresholds
from bot.triage.units import human_duration

POOLER_CODES = frozenset(
    {
        FindingCode.POOLER_CLIENT_LIMIT,
        FindingCode.POOLER_WAIT_TIMEOUT,
        FindingCode.POOLER_CLIENTS_WAITING,
        FindingCode.POOLER_POOL_FULL,
        FindingCode.POOLER_SERVER_LIMIT,
        FindingCode.POOLER_SERVER_LOGIN,
        FindingCode.POOLER_SESSION_STATE,
    }
)
# Parameters PgBouncer itself keeps in step per client: a SET of one of them is not a leak.
_TRACKED = frozenset(
    {"client_encoding", "datestyle", "timezone", "standard_conforming_strings", "application_name"}
)
_PG_REFUSALS = (
    SignalKind.MAX_CONNECTIONS,
    SignalKind.RESERVED_SLOTS,
    SignalKind.ROLE_LIMIT,
    SignalKind.DATABASE_LIMIT,
)


def _pool_name(p: Pool) -> str:
    return f"{p.database}/{p.user}"


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else human_duration(s)


def pooler_facts(pooler: PoolerSnapshot, pool: Pool | None = None, **values: Any) -> PoolerFacts:
    """The facts of one pool (or none) plus the pooler-wide ones; `values` override."""
    c = pooler.config
    limit = c.max_client_conn
    facts: dict[str, Any] = {
        "pool": Placeholder("pool"),
        "pool_database": Placeholder("pool database"),
        "pool_user": Placeholder("pool user"),
        "pool_mode": c.pool_mode,
        "pool_size": c.default_pool_size,
        "reserve_pool": c.reserve_pool_size,
        "pool_servers": Placeholder("pool servers"),
        "clients_waiting": sum(p.cl_waiting for p in pooler.app_pools),
        "maxwait_s": int(max((p.maxwait_s for p in pooler.app_pools), default=0.0)),
        "new_pool_size": Placeholder("new pool size"),
        "server_limit_name": Placeholder("limit"),
        "server_limit": Placeholder("limit"),
        "server_limit_current": Placeholder("current"),
        "client_connections": pooler.client_connections,
        "max_client_conn": limit,
        # A quarter more, rounded up to ten; file descriptors permitting (the playbook says so).
        "new_max_client_conn": -(-(limit * 5 // 4) // 10) * 10,
        "query_wait_timeout_s": int(c.query_wait_timeout_s),
        "session_features": Placeholder("session features"),
    }
    if pool is not None:
        facts.update(
            pool=_pool_name(pool),
            pool_database=pool.database,
            pool_user=pool.user,
            pool_mode=pooler.pool_mode(pool),
            pool_size=pooler.pool_size(pool),
            reserve_pool=pooler.reserve_pool(pool),
            pool_servers=pool.servers,
            clients_waiting=pool.cl_waiting,
            maxwait_s=int(pool.maxwait_s),
        )
    facts.update(values)
    return PoolerFacts(**facts)


def pooler_server_fields(
    pooler: PoolerSnapshot, snapshot: Snapshot | None, role: str | None
) -> dict[str, Any]:
    """ServerFacts' pooler fields for a finding about `role` (or none)."""
    pools = pooler.app_pools
    fields: dict[str, Any] = {
        "pooler": True,
        "pooler_pool_mode": pooler.config.pool_mode,
        "default_pool_size": pooler.config.default_pool_size,
        "reserve_pool_size": pooler.config.reserve_pool_size,
        "pooler_capacity": sum(pooler.pool_size(p) + pooler.reserve_pool(p) for p in pools),
    }
    mine = [p for p in pools if role is not None and pooler.server_role(p) == role]
    if not mine or role is None:
        return fields
    names = {(p.database, p.user) for p in mine}
    hosts = {c.addr for c in pooler.clients if (c.database, c.user) in names}
    if hosts and None not in hosts:
        fields["pooler_client_hosts"] = len(hosts)
    capacity = sum(pooler.pool_size(p) + pooler.reserve_pool(p) for p in mine)
    user_limit = pooler.user_limit(role)
    if user_limit > 0:
        capacity = min(capacity, user_limit)
    fields["role_pools"] = ", ".join(
        f"{p.database} {pooler.pool_size(p)}+{pooler.reserve_pool(p)}" for p in mine
    )
    fields["role_pooler_capacity"] = capacity
    r = snapshot.role(role) if snapshot is not None else None
    if r is not None and r.conn_limit >= 0:
        fields["role_conn_limit"] = r.conn_limit
        reserve = max(pooler.reserve_pool(p) for p in mine)
        fit = r.conn_limit // len(mine) - reserve
        fields["role_pool_size_fit"] = fit if fit >= 1 else Placeholder("no pool size fits")
    return fields


@dataclass(frozen=True, slots=True)
class _Blocked:
    """Why PostgreSQL would refuse a new server connection for a pool."""

    reason: str
    pasted: bool  # the paste shows the refusal (it happened, not only would)
    # What refuses: "PostgreSQL is full" only when the server itself has no slot.
    what: str = "PostgreSQL is full"


def _login_blocked(
    pooler: PoolerSnapshot, p: Pool, snapshot: Snapshot | None, signals: Sequence[Signal]
) -> _Blocked | None:
    role, db = pooler.server_role(p), pooler.server_database(p)
    pasted = _pasted_refusal(signals, role, db)
    if snapshot is None:
        if pasted is None:
            return None
        what = {
            SignalKind.ROLE_LIMIT.value: f"role {role} is at its CONNECTION LIMIT",
            SignalKind.DATABASE_LIMIT.value: f"database {db} is at its CONNECTION LIMIT",
        }.get(pasted, "PostgreSQL refuses its logins")
        return _Blocked(f"the paste shows PostgreSQL refusing it ({pasted})", True, what)
    r = snapshot.role(role)
    d = snapshot.database(db)
    superuser = r is not None and r.superuser
    s = snapshot.settings
    server = snapshot.server_headroom()
    role_room = snapshot.role_headroom(role)
    db_room = snapshot.database_headroom(db)
    reason = None
    what = "PostgreSQL is full"
    if r is not None and not superuser and role_room.full:
        what = f"role {role} is at its CONNECTION LIMIT"
        reason = f"{what} ({role_room.used}/{role_room.usable})"
    elif d is not None and not superuser and db_room.full:
        what = f"database {db} is at its CONNECTION LIMIT"
        reason = f"{what} ({db_room.used}/{db_room.usable})"
    elif server.total >= s.max_connections:
        reason = f"every one of its {s.max_connections} max_connections slots is taken"
    elif not superuser and server.full:
        reason = (
            f"every slot for ordinary roles is taken ({server.used}/{server.usable} usable, "
            f"{server.reserved} reserved)"
        )
    return _Blocked(reason, bool(pasted), what) if reason else None


def _pasted_refusal(signals: Sequence[Signal], role: str, db: str) -> str | None:
    for s in signals:
        if s.kind in (SignalKind.MAX_CONNECTIONS, SignalKind.RESERVED_SLOTS):
            return s.kind.value
        if s.kind is SignalKind.ROLE_LIMIT and s.role in (None, role):
            return s.kind.value
        if s.kind is SignalKind.DATABASE_LIMIT and s.database in (None, db):
            return s.kind.value
        if s.kind is SignalKind.POOLER_WAIT_TIMEOUT and s.detail == "server_login_retry":
            return "server login has been failing"
    return None


def pooler_drafts(
    pooler: PoolerSnapshot,
    snapshot: Snapshot | None,
    signals: Sequence[Signal],
    t: Thresholds,
    cluster: str | None,
    focus_role: str | None = None,
) -> list[Draft]:
    drafts: list[Draft] = []
    client = _client_limit(pooler, snapshot, signals, t, cluster)
    if client is not None:
        drafts.append(client)
    limits: dict[tuple[str, str], Draft] = {}
    for p in pooler.app_pools:
        role = pooler.server_role(p)
        if focus_role is not None and role != focus_role:
            continue
        draft = _pool_draft(pooler, p, snapshot, signals, t, cluster, limits)
        if draft is not None:
            drafts.append(draft)
        if snapshot is not None:
            state = _session_state(pooler, p, snapshot, t, cluster)
            if state is not None:
                drafts.append(state)
    return drafts


def _server(
    snapshot: Snapshot | None,
    t: Thresholds,
    cluster: str | None,
    p: Pool | None,
    pooler: PoolerSnapshot,
) -> Any:
    role = pooler.server_role(p) if p is not None else None
    database = pooler.server_database(p) if p is not None else None
    return server_facts(snapshot, t, cluster=cluster, role=role, database=database)


def _client_limit(
    pooler: PoolerSnapshot,
    snapshot: Snapshot | None,
    signals: Sequence[Signal],
    t: Thresholds,
    cluster: str | None,
) -> Draft | None:
    limit = pooler.config.max_client_conn
    used = pooler.client_connections
    pasted = any(
        s.kind is SignalKind.POOLER_CLIENT_LIMIT and s.detail in (None, "max_client_conn")
        for s in signals
    )
    if limit <= 0:
        return None
    if used >= limit:
        severity = Severity.CRITICAL
        title = f"PgBouncer is at max_client_conn ({used}/{limit}): new clients are refused"
    elif used >= limit * t.near_ratio:
        severity = Severity.WARNING
        title = f"PgBouncer is near max_client_conn ({used}/{limit} client connections)"
    elif pasted:
        severity = Severity.WARNING
        title = f"PgBouncer refused clients at max_client_conn; {used}/{limit} in use now"
    else:
        return None
    servers = sum(p.servers for p in pooler.app_pools)
    evidence = [
        f"PgBouncer has {used} of max_client_conn {limit} client connections in use (other "
        "admin console connections count too; pgconn's own is left out)."
        + (
            " New clients are refused: no more connections allowed (max_client_conn)."
            if used >= limit
            else ""
        ),
        *_client_states(pooler),
        *_client_sources(pooler),
        f"They share {servers} server connection(s) to PostgreSQL in "
        f"{len(pooler.app_pools)} pool(s): more clients do not mean more PostgreSQL sessions.",
    ]
    return Draft(
        code=FindingCode.POOLER_CLIENT_LIMIT,
        severity=severity,
        title=title,
        server=_server(snapshot, t, cluster, None, pooler),
        extra=pooler_facts(pooler),
        evidence=evidence,
        current=used,
        limit=limit,
        pressure=used / limit,
    )


def _client_states(pooler: PoolerSnapshot) -> list[str]:
    states = Counter(c.state for c in pooler.clients)
    if not states:
        return []
    parts = ", ".join(f"{n} {state}" for state, n in states.most_common())
    return [f"Application clients by state: {parts}."]


def _client_sources(pooler: PoolerSnapshot, limit: int = 3) -> list[str]:
    sources = Counter(
        (c.user, c.database, c.application_name, c.addr or "?") for c in pooler.clients
    )
    if not sources:
        return []
    parts = [
        f"{user}@{database} from {addr}" + (f" ({app})" if app else "") + f": {n}"
        for (user, database, app, addr), n in sources.most_common(limit)
    ]
    return ["Most clients: " + "; ".join(parts) + "."]


def _pool_line(pooler: PoolerSnapshot, p: Pool) -> str:
    size, reserve = pooler.pool_size(p), pooler.reserve_pool(p)
    return (
        f"Pool {_pool_name(p)} ({pooler.pool_mode(p)} mode): {p.servers} server connection(s) "
        f"of pool_size {size}"
        + (f" + reserve_pool {reserve}" if reserve else "")
        + f" ({p.sv_active} active, {p.sv_idle} idle, {p.sv_login} logging in); "
        f"{p.cl_active} client(s) active, {p.cl_waiting} waiting"
        + (f", the oldest for {_seconds(p.maxwait_s)}" if p.cl_waiting else "")
        + "."
    )


def _room(pooler: PoolerSnapshot, p: Pool, snapshot: Snapshot | None) -> int | None:
    """Server connections PostgreSQL (and PgBouncer's own limits) could still give this pool."""
    if snapshot is None:
        return None
    rooms = [snapshot.ordinary_free]
    r = snapshot.role(pooler.server_role(p))
    if r is not None and r.conn_limit >= 0:
        rooms.append(r.conn_limit - r.current)
    d = snapshot.database(pooler.server_database(p))
    if d is not None and d.conn_limit >= 0:
        rooms.append(d.conn_limit - d.current)
    db = pooler.database(p.database)
    if db is not None and db.max_connections > 0:
        rooms.append(db.max_connections - db.current_connections)
    user_limit = pooler.user_limit(p.user)
    if user_limit > 0:
        rooms.append(user_limit - pooler.user_servers(p.user))
    return min(rooms)


def _new_pool_size(pooler: PoolerSnapshot, p: Pool, snapshot: Snapshot | None) -> Any:
    size = pooler.pool_size(p)
    room = _room(pooler, p, snapshot)
    if room is None:
        return Placeholder("new pool size")
    if room <= 0:
        return Placeholder("new pool size: PostgreSQL has no room")
    return size + min(max(p.cl_waiting, 1), room)


def _pool_draft(
    pooler: PoolerSnapshot,
    p: Pool,
    snapshot: Snapshot | None,
    signals: Sequence[Signal],
    t: Thresholds,
    cluster: str | None,
    limits: dict[tuple[str, str], Draft],
) -> Draft | None:
    size = pooler.pool_size(p)
    clients = p.cl_active + p.cl_waiting
    blocked = _login_blocked(pooler, p, snapshot, signals)
    if blocked is not None and p.servers < size and (clients or blocked.pasted):
        return _login_draft(pooler, p, blocked, snapshot, t, cluster)
    limit = _server_limit(pooler, p)
    if limit is not None and clients:
        key = (limit[0], limit[1])
        if key in limits:
            limits[key].evidence.append(_pool_line(pooler, p))
            return None
        draft = _limit_draft(pooler, p, limit, snapshot, t, cluster)
        limits[key] = draft
        return draft
    if p.cl_waiting and p.maxwait_s >= t.pooler_wait_warning_s:
        return _waiting_draft(pooler, p, blocked, snapshot, t, cluster)
    if size > 0 and p.sv_active >= size:
        return Draft(
            code=FindingCode.POOLER_POOL_FULL,
            severity=Severity.WARNING,
            title=f"PgBouncer pool {_pool_name(p)} has every server connection busy "
            f"({p.sv_active}/{size})",
            server=_server(snapshot, t, cluster, p, pooler),
            extra=pooler_facts(pooler, p, new_pool_size=_new_pool_size(pooler, p, snapshot)),
            evidence=[
                _pool_line(pooler, p),
                "The next client that starts a transaction waits in PgBouncer's queue.",
            ],
            role=pooler.server_role(p),
            current=p.sv_active,
            limit=size,
            pressure=p.sv_active / size,
        )
    return None


def _login_draft(
    pooler: PoolerSnapshot,
    p: Pool,
    blocked: _Blocked,
    snapshot: Snapshot | None,
    t: Thresholds,
    cluster: str | None,
) -> Draft:
    role = pooler.server_role(p)
    critical = blocked.pasted or p.cl_waiting > 0
    # Without a client waiting (and no refusal pasted) nothing is refused yet: it would be.
    refuses = "refuses" if critical else "would refuse"
    evidence = [
        f"PostgreSQL {refuses} new server connections for role {role}: {blocked.reason}.",
        _pool_line(pooler, p),
        "PgBouncer passes the server's refusal on to the clients waiting for a login (they "
        "see PostgreSQL's FATAL, through PgBouncer), and for server_login_retry "
        f"({_seconds(pooler.config.server_login_retry_s)}) refuses new ones at once.",
        "PgBouncer's console does not show failed logins: this is read from PostgreSQL's "
        "numbers" + (" and the paste." if blocked.pasted else "."),
    ]
    return Draft(
        code=FindingCode.POOLER_SERVER_LOGIN,
        severity=Severity.CRITICAL if critical else Severity.WARNING,
        title=(
            f"PgBouncer cannot open server connections for pool {_pool_name(p)}: {blocked.what}"
            if critical
            else f"PgBouncer could not open more server connections for pool {_pool_name(p)}: "
            f"{blocked.what} (no client waiting now)"
        ),
        server=_server(snapshot, t, cluster, p, pooler),
        extra=pooler_facts(pooler, p, new_pool_size=_new_pool_size(pooler, p, snapshot)),
        evidence=evidence,
        role=role,
        database=pooler.server_database(p),
        current=p.servers,
        limit=pooler.pool_size(p),
        pressure=1.0,
    )


def _server_limit(pooler: PoolerSnapshot, p: Pool) -> tuple[str, str, int, int] | None:
    """(setting, entity, limit, current) of a PgBouncer server-connection limit p is at."""
    db = pooler.database(p.database)
    if db is not None and 0 < db.max_connections <= db.current_connections:
        return "max_db_connections", p.database, db.max_connections, db.current_connections
    limit = pooler.user_limit(p.user)
    current = pooler.user_servers(p.user)
    if 0 < limit <= current:
        return "max_user_connections", p.user, limit, current
    return None


def _limit_draft(
    pooler: PoolerSnapshot,
    p: Pool,
    limit: tuple[str, str, int, int],
    snapshot: Snapshot | None,
    t: Thresholds,
    cluster: str | None,
) -> Draft:
    setting, entity, value, current = limit
    what = "database" if setting == "max_db_connections" else "user"
    queued = p.cl_waiting > 0
    return Draft(
        code=FindingCode.POOLER_SERVER_LIMIT,
        severity=Severity.CRITICAL
        if queued and p.maxwait_s >= t.pooler_wait_critical_s
        else Severity.WARNING,
        title=f"PgBouncer's {setting} holds {what} {entity} at {current}/{value} server "
        "connections" + (": clients queue" if queued else ""),
        server=_server(snapshot, t, cluster, p, pooler),
        extra=pooler_facts(
            pooler,
            p,
            server_limit_name=setting,
            server_limit=value,
            server_limit_current=current,
            new_pool_size=_new_pool_size(pooler, p, snapshot),
        ),
        evidence=[
            f"{what.capitalize()} {entity} has {current} server connection(s) and {setting} "
            f"is {value}: PgBouncer opens no more, whatever pool_size says, and says nothing: "
            "clients wait until query_wait_timeout "
            f"({_seconds(pooler.config.query_wait_timeout_s)}).",
            _pool_line(pooler, p),
        ],
        role=pooler.server_role(p),
        current=current,
        limit=value,
        pressure=current / value,
    )


def _waiting_draft(
    pooler: PoolerSnapshot,
    p: Pool,
    blocked: _Blocked | None,
    snapshot: Snapshot | None,
    t: Thresholds,
    cluster: str | None,
) -> Draft:
    size = pooler.pool_size(p)
    timeout = pooler.config.query_wait_timeout_s
    critical_s = t.pooler_wait_critical_s
    if timeout > 0:
        critical_s = min(critical_s, timeout / 2)
    evidence = [_pool_line(pooler, p)]
    if p.servers >= size:
        evidence.append(
            f"The pool is at its pool_size ({size}): each waiting client needs a server "
            "connection to be released first."
        )
    elif p.sv_login:
        evidence.append(f"{p.sv_login} server connection(s) are still logging in to PostgreSQL.")
    if blocked is not None:
        evidence.append(
            f"PostgreSQL has no room to grow it: {blocked.reason}. A bigger pool_size would "
            "only turn waits into refused logins."
        )
    if timeout > 0:
        evidence.append(
            f"Clients still waiting after query_wait_timeout ({_seconds(timeout)}) are "
            "disconnected with the error query_wait_timeout."
        )
    return Draft(
        code=FindingCode.POOLER_CLIENTS_WAITING,
        severity=Severity.CRITICAL if p.maxwait_s >= critical_s else Severity.WARNING,
        title=f"{p.cl_waiting} client(s) waiting in PgBouncer pool {_pool_name(p)} "
        f"(oldest {_seconds(p.maxwait_s)})",
        server=_server(snapshot, t, cluster, p, pooler),
        extra=pooler_facts(pooler, p, new_pool_size=_new_pool_size(pooler, p, snapshot)),
        evidence=evidence,
        role=pooler.server_role(p),
        current=p.servers,
        limit=size,
        pressure=max(p.servers / size if size else 1.0, 1.0),
    )


def _describe_features(found: Sequence[SessionFeature]) -> str:
    labels = Counter(
        "session advisory lock"
        if f.kind == "advisory_lock"
        else f"{f.kind.upper()} {f.name}"
        if f.name
        else f.kind.upper()
        for f in found
    )
    return ", ".join(f"{label} ({n})" for label, n in labels.most_common())


def _session_state(
    pooler: PoolerSnapshot, p: Pool, snapshot: Snapshot, t: Thresholds, cluster: str | None
) -> Draft | None:
    mode = pooler.pool_mode(p)
    if mode not in SHARED_MODES:
        return None
    pids = {
        s.remote_pid
        for s in pooler.servers
        if s.remote_pid and s.user == p.user and s.database == p.database
    }
    tracked = _TRACKED | set(pooler.config.track_extra_parameters)
    found = [
        f
        for f in snapshot.session_features
        if f.pid in pids and not (f.kind == "set" and (f.name or "") in tracked)
    ]
    if not found:
        return None
    carriers = len({f.pid for f in found})
    described = _describe_features(found)
    return Draft(
        code=FindingCode.POOLER_SESSION_STATE,
        severity=Severity.WARNING,
        title=f"Session state on {mode}-mode pool {_pool_name(p)}: {described}",
        server=_server(snapshot, t, cluster, p, pooler),
        extra=pooler_facts(pooler, p, session_features=described),
        evidence=[
            f"{carriers} of the pool's {len(pids)} server connection(s) are idle in PgBouncer "
            f"yet carry session state: {described}. In {mode} mode the next client to get such "
            "a connection inherits it, and the client that set it may not find it again.",
            "Seen from each backend's last command and its advisory locks; prepared "
            "statements of the extended protocol (most drivers) cannot be seen this way.",
        ],
        role=pooler.server_role(p),
        database=pooler.server_database(p),
        pressure=0.0,
    )
