"""Live reads on the admin connection: the sessions a selection matches, a role, a database,
and what the admin role may do. Rows map straight to frozen classes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from bot.remediation import admin
from bot.remediation.model import Criteria

# How many matching sessions a proposal reads at most; more are reported as "at least".
SCAN_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class LiveSession:
    pid: int
    backend_start: datetime
    role: str | None
    database: str | None
    application: str
    client: str
    state: str | None
    query_start: datetime | None
    state_age_s: float
    backend_type: str | None
    superuser: bool
    own: bool
    query: str | None


@dataclass(frozen=True, slots=True)
class AdminRole:
    role: str
    superuser: bool
    can_signal: bool
    sees_all: bool
    can_alter_roles: bool


@dataclass(frozen=True, slots=True)
class RoleRow:
    name: str
    conn_limit: int
    superuser: bool
    settings: list[str]
    current: int
    may_alter: bool  # the admin role may ALTER this role

    def setting(self, name: str) -> str | None:
        """A role-wide `ALTER ROLE ... SET` value, as stored (`5min`), or None."""
        prefix = f"{name}="
        return next((s[len(prefix) :] for s in self.settings if s.startswith(prefix)), None)


@dataclass(frozen=True, slots=True)
class DatabaseRow:
    name: str
    conn_limit: int
    current: int
    may_alter: bool  # the admin role may ALTER this database


def criteria_values(c: Criteria) -> dict[str, Any]:
    return {
        "role": c.role,
        "database": c.database,
        "application": c.application,
        "client": c.client,
        "states": list(c.states) if c.states is not None else None,
        "min_age_s": c.min_age_s,
    }


def _rows(
    conn: psycopg.Connection[Any], cls: type[Any], name: str, values: dict[str, Any]
) -> list[Any]:
    version = conn.info.server_version
    with conn.cursor(row_factory=class_row(cls)) as cur:
        cur.execute(admin.compose(name, version, values=values), values)
        return cur.fetchall()


def whoami(conn: psycopg.Connection[Any]) -> AdminRole:
    rows = _rows(conn, AdminRole, "admin_whoami", {})
    return rows[0]  # type: ignore[no-any-return]


def matching_sessions(conn: psycopg.Connection[Any], c: Criteria) -> list[LiveSession]:
    return _rows(
        conn, LiveSession, "admin_sessions", {**criteria_values(c), "scan_limit": SCAN_LIMIT}
    )


def role(conn: psycopg.Connection[Any], name: str) -> RoleRow | None:
    rows = _rows(conn, RoleRow, "admin_role", {"role": name})
    return rows[0] if rows else None


def database(conn: psycopg.Connection[Any], name: str) -> DatabaseRow | None:
    rows = _rows(conn, DatabaseRow, "admin_database", {"database": name})
    return rows[0] if rows else None


def remaining(
    conn: psycopg.Connection[Any], pids: Iterable[int], starts: Iterable[datetime]
) -> set[int]:
    """Which of these (pid, backend_start) sessions still exist."""
    values = {"pids": list(pids), "backend_starts": list(starts)}
    version = conn.info.server_version
    with conn.cursor() as cur:
        cur.execute(admin.compose("admin_remaining", version, values=values), values)
        return {int(r[0]) for r in cur.fetchall()}
