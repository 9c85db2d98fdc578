"""Take one Snapshot: one connection, one round trip.

The queries are sent as a single simple-query batch (no parameters), which PostgreSQL runs in
one implicit transaction: every part sees the same pg_stat_activity snapshot, and the server
copies backend status only once. Grouping and counting happen here, in Python, on typed rows.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import namedtuple_row

from bot.diagnostics import activity, queries
from bot.diagnostics.features import session_features
from bot.diagnostics.model import (
    DatabaseUsage,
    RoleUsage,
    Settings,
    Snapshot,
)
from bot.errors import DiagnosticsError
from bot.pasted.settings import memory_settings

# settings comes first: it must read the server's statement_timeout before the batch sets its own.
BATCH = ("settings", "statement_timeout", "whoami", "roles", "databases", "sessions")
# Added at the end of the same batch when the cluster sits behind a configured pooler.
POOLED = ("session_features",)


@dataclass(frozen=True, slots=True)
class _Row:
    """A sessions.sql row, typed."""

    pid: int
    role: str | None
    database: str | None
    application: str
    client: str
    state: str | None
    backend_start: datetime
    xact_start: datetime | None
    state_change: datetime | None
    wait_event: str | None
    query: str | None
    superuser: bool
    hidden: bool
    own: bool = False


def batch_sql(server_version_num: int, *, pooled: bool = False) -> str:
    names = BATCH + POOLED if pooled else BATCH
    return ";\n".join(queries.query(name, server_version_num) for name in names)


def _result_sets(cur: psycopg.Cursor[Any]) -> Iterator[list[Any]]:
    while True:
        yield cur.fetchall() if cur.description else []
        if not cur.nextset():
            return


def take_snapshot(conn: psycopg.Connection[Any], cluster: str, *, pooled: bool = False) -> Snapshot:
    """`pooled`: also read the session state a transaction-mode pooler would leak (same round
    trip)."""
    version = conn.info.server_version
    if version < 120000:
        raise DiagnosticsError(
            f"PostgreSQL {version // 10000} is not supported (12 or newer is); "
            "the pasted-text playbooks still apply."
        )
    try:
        with conn.cursor(row_factory=namedtuple_row) as cur:
            cur.execute(batch_sql(version, pooled=pooled).encode())
            setting_rows, _, whoami_rows, role_rows, db_rows, session_rows, *rest = _result_sets(
                cur
            )
            version_text = conn.info.parameter_status("server_version") or str(version)
    except psycopg.Error as exc:
        raise DiagnosticsError(
            f"the diagnostics query failed: {type(exc).__name__}: {exc}".strip()
        ) from exc
    return build_snapshot(
        cluster,
        version,
        version_text,
        whoami_rows[0],
        setting_rows[0],
        role_rows,
        db_rows,
        session_rows,
        rest[0] if rest else (),
    )


_UNIT_MS = {"ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_SHOWN = re.compile(r"^(?P<n>-?\d+)\s*(?P<unit>ms|s|min|h|d)?$")


def _duration_ms(shown: str | None, base_unit_ms: int) -> int | None:
    """A time setting as SHOW displays it ('0', '30s', '2h', '1500ms') in milliseconds."""
    if shown is None:
        return None
    match = _SHOWN.match(shown.strip())
    if not match:
        raise DiagnosticsError(f"unexpected setting value {shown!r}")
    unit = match["unit"]
    return int(match["n"]) * (_UNIT_MS[unit] if unit else base_unit_ms)


def _settings(row: Any) -> Settings:
    def count(value: str | None) -> int:
        return int(value) if value else 0

    def ms(value: str | None) -> int:
        return _duration_ms(value, 1) or 0

    def seconds(value: str | None) -> int:
        return (_duration_ms(value, 1000) or 0) // 1000

    return Settings(
        max_connections=count(row.max_connections),
        superuser_reserved_connections=count(row.superuser_reserved_connections),
        reserved_connections=None
        if row.reserved_connections is None
        else count(row.reserved_connections),
        idle_in_transaction_session_timeout_ms=ms(row.idle_in_transaction_session_timeout),
        idle_session_timeout_ms=_duration_ms(row.idle_session_timeout, 1),
        statement_timeout_ms=ms(row.statement_timeout),
        tcp_keepalives_idle_s=seconds(row.tcp_keepalives_idle),
        tcp_keepalives_interval_s=seconds(row.tcp_keepalives_interval),
        tcp_keepalives_count=count(row.tcp_keepalives_count),
        max_wal_senders=count(row.max_wal_senders),
        memory=memory_settings(
            getattr(row, "shared_buffers", None),
            getattr(row, "work_mem", None),
            getattr(row, "maintenance_work_mem", None),
            getattr(row, "hash_mem_multiplier", None),
            getattr(row, "autovacuum_max_workers", None),
        ),
    )


def build_snapshot(
    cluster: str,
    version: int,
    version_text: str,
    whoami: Any,
    setting_row: Any,
    role_rows: Sequence[Any],
    db_rows: Sequence[Any],
    session_rows: Sequence[Any],
    feature_rows: Sequence[Any] = (),
) -> Snapshot:
    now: datetime = whoami.now
    role_names = {r.oid: r.rolname for r in role_rows}
    superusers = {r.oid for r in role_rows if r.rolsuper}
    db_names = {d.oid: d.datname for d in db_rows}
    all_rows = [
        _Row(
            pid=s.pid,
            role=role_names.get(s.usesysid, f"oid {s.usesysid}"),
            database=db_names.get(s.datid),
            application=s.application_name or "",
            client=s.client or "?",
            state=s.state,
            backend_start=s.backend_start,
            xact_start=s.xact_start,
            state_change=s.state_change,
            wait_event=s.wait_event,
            query=s.query,
            superuser=s.usesysid in superusers,
            hidden=bool(s.hidden),
            own=bool(getattr(s, "own", False)),
        )
        for s in session_rows
    ]
    rows = [r for r in all_rows if not r.own]
    own = tuple((r.role, r.database) for r in all_rows if r.own)
    by_role = Counter(r.role for r in rows)
    by_db = Counter(r.database for r in rows)
    roles = tuple(
        RoleUsage(
            name=r.rolname,
            conn_limit=r.rolconnlimit,
            current=by_role.get(r.rolname, 0),
            superuser=r.rolsuper,
            can_login=r.rolcanlogin,
        )
        for r in role_rows
        if r.rolconnlimit >= 0 or by_role.get(r.rolname, 0) > 0
    )
    databases = tuple(
        DatabaseUsage(
            name=d.datname,
            conn_limit=d.datconnlimit,
            current=by_db.get(d.datname, 0),
            allow_connections=d.datallowconn,
        )
        for d in db_rows
        if d.datallowconn or d.datconnlimit >= 0 or by_db.get(d.datname, 0) > 0
    )
    blind: list[str] = []
    hidden = sum(1 for r in rows if r.hidden)
    if hidden:
        blind.append(
            f"{hidden} session(s) of other roles are hidden from {whoami.role}: their state, "
            "client and query are unknown. Grant it pg_monitor (GRANT pg_monitor TO "
            f"{sql.Identifier(whoami.role).as_string(None)}) to see them."
        )
    return Snapshot(
        cluster=cluster,
        server_version_num=version,
        server_version=version_text,
        taken_at=now,
        settings=_settings(setting_row),
        client_backends=len(rows),
        superuser_backends=sum(1 for r in rows if r.superuser),
        roles=roles,
        databases=databases,
        groups=activity.groups(rows),
        oldest_idle=activity.oldest(rows, "idle", now),
        oldest_idle_in_transaction=activity.oldest(rows, "idle in transaction", now),
        monitoring_role=whoami.role,
        monitoring_can_use_reserved=bool(whoami.can_use_reserved),
        blind_spots=tuple(blind),
        monitoring_superuser=bool(whoami.superuser),
        session_features=session_features(feature_rows, role_names, db_names),
        own_sessions=own or None,
    )
