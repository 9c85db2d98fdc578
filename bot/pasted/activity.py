"""A Snapshot built from pasted pg_stat_activity rows and settings, for the same triage as live.

What the paste cannot show is filled in as the signals beside it imply, and said so: a role
whose limit the pasted error names is taken as full at the sessions the paste shows for it; an
unknown max_connections is PostgreSQL's default, or what the rows imply when they exceed it.
Ages are measured against the paste's own `now()` column, else its newest timestamp.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.diagnostics import activity
from bot.diagnostics.model import (
    DatabaseUsage,
    RoleUsage,
    Settings,
    Snapshot,
)
from bot.pasted.settings import duration_ms, memory_settings
from bot.pasted.tables import Row, Table
from bot.signals.model import Signal, SignalKind

PASTE_CLUSTER = "the paste"
_DEFAULT_MAX_CONNECTIONS = 100
_DEFAULT_SUPERUSER_RESERVED = 3
_STAMPS = ("state_change", "query_start", "xact_start", "backend_start")


@dataclass(frozen=True, slots=True)
class _Row:
    pid: int
    role: str | None
    database: str | None
    application: str
    client: str
    state: str | None
    backend_start: datetime | None
    xact_start: datetime | None
    state_change: datetime | None
    wait_event: str | None
    query: str | None


def is_activity(table: Table) -> bool:
    cols = set(table.columns)
    return "pid" in cols and bool(cols & {"state", "usename", "datname"})


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _client(row: Row) -> str:
    if row.get("client_port") == "-1":
        return "local"
    addr = row.get("client_addr")
    return addr.split("/")[0] if addr else "?"


def _rows(table: Table) -> list[_Row]:
    out = []
    for r in table.rows:
        kind = r.get("backend_type")
        if kind is not None and kind != "client backend":
            continue
        if kind is None and not r.get("usename") and not r.get("datname"):
            continue  # background processes have neither
        try:
            pid = int(r.get("pid") or "")
        except ValueError:
            continue
        out.append(
            _Row(
                pid=pid,
                role=r.get("usename"),
                database=r.get("datname"),
                application=r.get("application_name") or "",
                client=_client(r),
                state=r.get("state"),
                backend_start=_time(r.get("backend_start")),
                xact_start=_time(r.get("xact_start")),
                state_change=_time(r.get("state_change")),
                wait_event=r.get("wait_event"),
                query=r.get("query"),
            )
        )
    return out


def paste_time(table: Table) -> tuple[datetime | None, str]:
    """When the rows were read: the `now` column, else the newest timestamp in them."""
    nows = [t for r in table.rows if (t := _time(r.get("now"))) is not None]
    if nows:
        return max(nows), "the paste's now() column"
    stamps = [t for r in table.rows for c in _STAMPS if (t := _time(r.get(c))) is not None]
    if stamps:
        return max(stamps), "the newest timestamp in the paste (it has no now() column)"
    return None, "nothing: the paste has no timestamps"


def _is_own(r: _Row) -> bool:
    """The session that ran the pasted query: it reads pg_stat_activity, and is active."""
    return r.state == "active" and r.query is not None and "pg_stat_activity" in r.query


def build(
    table: Table,
    settings: Mapping[str, str],
    found: Sequence[Signal],
    *,
    cluster: str | None = None,
) -> tuple[Snapshot, list[str]]:
    """The snapshot, and notes on what was taken from the paste, missing, or assumed."""
    notes: list[str] = []
    now, clock = paste_time(table)
    all_rows = _rows(table)
    own = [r for r in all_rows if _is_own(r)]
    rows = [r for r in all_rows if not _is_own(r)]
    taken = now or datetime.fromtimestamp(0).astimezone()
    by_role = Counter(r.role for r in rows)
    by_db = Counter(r.database for r in rows)
    notes.append(
        f"From the paste ({table.form} pg_stat_activity, line {table.line}): {len(rows)} client "
        f"backend(s)" + (", besides the session that ran the query" if own else "")
        + (f", as of {taken:%Y-%m-%d %H:%M:%S %Z} ({clock})." if now else "; " + clock + ".")
    )  # fmt: skip
    missing = [c for c in ("state", "state_change", "usename", "datname") if c not in table.columns]
    if missing:
        notes.append(
            f"Not in the pasted rows: {', '.join(missing)}; findings that need them are missing."
        )
    role_limits = _limits_named(found, SignalKind.ROLE_LIMIT, by_role, "role", notes)
    db_limits = _limits_named(found, SignalKind.DATABASE_LIMIT, by_db, "database", notes)
    snap_settings = _settings(settings, len(rows) + len(own), found, notes)
    roles = tuple(
        RoleUsage(name, role_limits.get(name, -1), n, superuser=False, can_login=True)
        for name, n in by_role.items()
        if name is not None
    )
    databases = tuple(
        DatabaseUsage(name, db_limits.get(name, -1), n, allow_connections=True)
        for name, n in by_db.items()
        if name is not None
    )
    version = settings.get("server_version_num")
    snap = Snapshot(
        cluster=cluster or PASTE_CLUSTER,
        server_version_num=int(version) if version and version.isdigit() else 0,
        server_version=settings.get("server_version", "unknown (not in the paste)"),
        taken_at=taken,
        settings=snap_settings,
        client_backends=len(rows),
        superuser_backends=0,
        roles=roles,
        databases=databases,
        groups=activity.groups(rows),
        oldest_idle=activity.oldest(rows, "idle", taken),
        oldest_idle_in_transaction=activity.oldest(rows, "idle in transaction", taken),
        monitoring_role=own[0].role or "?" if own else "?",
        monitoring_can_use_reserved=False,
        blind_spots=(
            "Which roles are superusers is not in a pg_stat_activity paste: none is assumed.",
        ),
        own_sessions=tuple((r.role, r.database) for r in own),
        pasted=table.form,
    )
    return snap, notes


def _limits_named(
    found: Sequence[Signal],
    kind: SignalKind,
    counts: Counter[str | None],
    what: str,
    notes: list[str],
) -> dict[str, int]:
    """A limit the pasted error says was hit: taken as the sessions the paste shows there."""
    limits: dict[str, int] = {}
    for s in found:
        name = s.role if kind is SignalKind.ROLE_LIMIT else s.database
        if s.kind is kind and name is not None and counts.get(name):
            limits[name] = counts[name]
    for name, n in limits.items():
        notes.append(
            f"The {what} {name}'s CONNECTION LIMIT is not in the paste; the error says it was "
            f"reached, so it is taken as the {n} session(s) the paste shows for it."
        )
    return limits


def _settings(
    shown: Mapping[str, str], sessions: int, found: Sequence[Signal], notes: list[str]
) -> Settings:
    def count(name: str, default: int) -> int:
        value = shown.get(name)
        return int(value) if value is not None and value.isdigit() else default

    reserved = count("superuser_reserved_connections", _DEFAULT_SUPERUSER_RESERVED)
    max_conn = count("max_connections", 0)
    if not max_conn:
        full = any(s.kind in (SignalKind.MAX_CONNECTIONS, SignalKind.RESERVED_SLOTS) for s in found)
        if full or sessions + reserved > _DEFAULT_MAX_CONNECTIONS:
            max_conn = sessions + reserved
            why = "the paste says the server was full" if full else "the rows exceed the default"
            notes.append(
                f"max_connections is not in the paste; {why}, so it is taken as the {sessions} "
                f"session(s) shown plus {reserved} reserved: {max_conn}. Paste `SHOW "
                "max_connections` for the real figure."
            )
        else:
            max_conn = _DEFAULT_MAX_CONNECTIONS
            notes.append(
                "max_connections is not in the paste: PostgreSQL's default, 100, is assumed. "
                "Paste `SHOW max_connections` for the real figure."
            )
    else:
        notes.append(f"max_connections {max_conn} is from the paste.")
    given = [n for n in shown if n != "max_connections"]
    if given:
        notes.append("Also from the paste: " + ", ".join(f"{n} = {shown[n]}" for n in given) + ".")
    reserved_conns = shown.get("reserved_connections")
    idle_session = duration_ms(shown.get("idle_session_timeout"), 1)
    return Settings(
        max_connections=max_conn,
        superuser_reserved_connections=reserved,
        reserved_connections=int(reserved_conns) if reserved_conns else None,
        idle_in_transaction_session_timeout_ms=duration_ms(
            shown.get("idle_in_transaction_session_timeout"), 1
        )
        or 0,
        idle_session_timeout_ms=idle_session,
        statement_timeout_ms=duration_ms(shown.get("statement_timeout"), 1) or 0,
        tcp_keepalives_idle_s=(duration_ms(shown.get("tcp_keepalives_idle"), 1000) or 0) // 1000,
        tcp_keepalives_interval_s=(duration_ms(shown.get("tcp_keepalives_interval"), 1000) or 0)
        // 1000,
        tcp_keepalives_count=count("tcp_keepalives_count", 0),
        max_wal_senders=count("max_wal_senders", 10),
        memory=memory_settings(
            shown.get("shared_buffers"),
            shown.get("work_mem"),
            shown.get("maintenance_work_mem"),
            shown.get("hash_mem_multiplier"),
            shown.get("autovacuum_max_workers"),
        ),
    )
