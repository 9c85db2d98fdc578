"""How pgconn itself gets into a full server, and what to run so that it can next time.

When ordinary roles are refused, pgconn still gets in through:
- the connection a long-running pgconn keeps open (it already holds its slot);
- on PostgreSQL 16+, the `reserved_connections` slots, for a role with the privileges of
  `pg_use_reserved_connections`;
- the `superuser_reserved_connections` slots, for a superuser monitoring role (on 15 and older
  the only reserve there is).
These functions word that for the report, with the exact statements to run (names quoted by
psycopg). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import sql

from bot.diagnostics.model import Snapshot
from bot.signals.model import Signal, SignalKind

# As deploy/sql/monitoring-role.sql says: room for pgconn_monitor and pgconn_admin.
SUGGESTED_RESERVED = 3
SUGGESTED_SUPERUSER_RESERVED = 3


@dataclass(frozen=True, slots=True)
class ReservedPath:
    """Whether pgconn's monitoring role can get in when ordinary roles are refused; if not,
    `statements` are what to run (in order), each exact and quoted."""

    ready: bool
    summary: str
    statements: tuple[str, ...] = ()
    # How the statements are introduced: a trade-off is offered, not ordered.
    lead: str = "Run:"

    def note(self) -> str:
        if not self.statements:
            return self.summary
        return f"{self.summary} {self.lead} {' '.join(self.statements)}"


def _grant(role: str) -> str:
    return (
        sql.SQL("GRANT pg_use_reserved_connections TO {};")
        .format(sql.Identifier(role))
        .as_string(None)
    )


def _alter_system(setting: str, value: int) -> str:
    # `setting` is one of pgconn's constants, shown unquoted as people write it.
    return (
        sql.SQL("ALTER SYSTEM SET {} = {};")
        .format(sql.SQL(setting), sql.Literal(value))
        .as_string(None)
    )


_RESTART = " (reserved slots come out of max_connections; the setting needs a restart)."


def reserved_path(snapshot: Snapshot) -> ReservedPath:
    """From what the live snapshot says about the server and pgconn's role."""
    s = snapshot.settings
    return assess(
        snapshot.monitoring_role,
        snapshot.server_version_num,
        superuser=snapshot.monitoring_superuser,
        can_use_reserved=snapshot.monitoring_can_use_reserved,
        reserved_connections=s.reserved_connections,
        superuser_reserved_connections=s.superuser_reserved_connections,
    )


def assess(
    role: str,
    version: int,
    *,
    superuser: bool,
    can_use_reserved: bool,
    reserved_connections: int | None,
    superuser_reserved_connections: int,
) -> ReservedPath:
    major = version // 10000
    if superuser:
        if superuser_reserved_connections > 0:
            return ReservedPath(
                True,
                f"pgconn connects as superuser {role}: the {superuser_reserved_connections} "
                "superuser_reserved_connections slots let it in when ordinary roles are refused.",
            )
        return ReservedPath(
            False,
            f"pgconn connects as superuser {role}, but superuser_reserved_connections is 0: "
            f"once ordinary roles are refused, so is pgconn{_RESTART}",
            (_alter_system("superuser_reserved_connections", SUGGESTED_SUPERUSER_RESERVED),),
        )
    if major < 16:
        # Making the monitoring role a superuser would undo its read-only setup: never advised.
        return ReservedPath(
            False,
            f"On PostgreSQL {major} only superusers may use the reserved slots, and pgconn's "
            f"role {role} is not one: when ordinary roles are refused, only a connection pgconn "
            "already keeps open still works, so run pgconn as a bot (it keeps one per cluster). "
            "PostgreSQL 16+ adds reserved_connections and pg_use_reserved_connections for this.",
        )
    reserved = reserved_connections or 0
    if can_use_reserved and reserved > 0:
        return ReservedPath(
            True,
            f"pgconn's role {role} may use the {reserved} reserved_connections slots "
            "(pg_use_reserved_connections): it gets in when ordinary roles are refused.",
        )
    statements: list[str] = []
    missing: list[str] = []
    if reserved == 0:
        missing.append("reserved_connections is 0")
        statements.append(_alter_system("reserved_connections", SUGGESTED_RESERVED))
    if not can_use_reserved:
        missing.append(f"role {role} lacks pg_use_reserved_connections")
        statements.append(_grant(role))
    restart = _RESTART if reserved == 0 else "."
    return ReservedPath(
        False,
        f"PostgreSQL {major} can keep slots for pgconn when ordinary roles are refused, but "
        + " and ".join(missing)
        + restart,
        tuple(statements),
    )


def paste_major(refusals: list[Signal]) -> int | None:
    """The major version a refusal's wording gives away: the 9.0–15 text names
    "non-replication superuser connections"; 16+ names the SUPERUSER attribute (untranslated)
    or pg_use_reserved_connections. 16 stands for "16 or newer"."""
    for s in refusals:
        if s.kind is not SignalKind.RESERVED_SLOTS:
            continue
        if s.detail == "pg_use_reserved_connections" or "SUPERUSER" in s.excerpt:
            return 16
        if "non-replication" in s.excerpt:
            return 15
    return None


def assess_unconnected(role: str, version: int | None, refusals: list[Signal]) -> ReservedPath:
    """Without a snapshot: from the version pgconn saw last (if any) and the refusal's wording.
    `pg_use_reserved_connections` in the refusal means 16+, reserved_connections > 0 and a
    role without the privilege; the pre-16 wording names non-replication superusers."""
    reserved = next((s for s in refusals if s.kind is SignalKind.RESERVED_SLOTS), None)
    if reserved is not None and reserved.detail == "pg_use_reserved_connections":
        return ReservedPath(
            False,
            f"The server keeps reserved_connections slots, but pgconn's role {role} may not "
            "use them.",
            (_grant(role),),
        )
    major = version // 10000 if version is not None else paste_major(refusals)
    if major is not None and major < 16:
        return assess(
            role,
            major * 10000,
            superuser=False,
            can_use_reserved=False,
            reserved_connections=None,
            superuser_reserved_connections=0,
        )
    if major is not None:
        return ReservedPath(
            False,
            f"PostgreSQL {major}{'' if version is not None else ' or newer'} can keep slots for "
            f"pgconn's role {role} when ordinary roles are refused (the first statement needs a "
            "restart).",
            (_alter_system("reserved_connections", SUGGESTED_RESERVED), _grant(role)),
        )
    return ReservedPath(
        False,
        "The server's version is unknown, so each form is given with the versions it applies "
        f"to. PostgreSQL 16 and newer: give pgconn's role {role} its own reserved slots (the "
        "first statement needs a restart). PostgreSQL 15 and older have no such slots for a "
        "role that is not a superuser: keep pgconn running as a bot, so it holds its "
        "connection before the server fills up.",
        (_alter_system("reserved_connections", SUGGESTED_RESERVED), _grant(role)),
        lead="On 16+ run:",
    )


def how_pgconn_got_in(snapshot: Snapshot, *, kept: bool, opened_at: datetime | None) -> str | None:
    """A note when the way pgconn connected matters: the server has no ordinary slot free."""
    room = snapshot.server_headroom()
    full = room.full
    privileged = snapshot.monitoring_superuser or snapshot.monitoring_can_use_reserved
    if kept and opened_at is not None:
        since = f"{opened_at:%Y-%m-%d %H:%M:%S %Z}".strip()
        if not full:
            return None
        refused = (
            " A new connection for it would have needed the reserved slots."
            if privileged
            else f" A new connection for role {snapshot.monitoring_role} would have been "
            "refused: every ordinary slot is taken."
        )
        return f"pgconn read this through the connection it keeps open since {since}.{refused}"
    if room.own_reserved > 0 and privileged:
        s = snapshot.settings
        if snapshot.monitoring_superuser:
            how = (
                f"role {snapshot.monitoring_role} is a superuser "
                f"(superuser_reserved_connections = {s.superuser_reserved_connections})"
            )
        else:
            how = (
                f"role {snapshot.monitoring_role} has pg_use_reserved_connections "
                f"(reserved_connections = {s.reserved_connections or 0})"
            )
        return f"pgconn got in through the reserved slots: every ordinary slot is taken, and {how}."
    if full:
        return "pgconn's own connection took the last slot for ordinary roles."
    return None
