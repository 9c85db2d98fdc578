"""The settings that give slots back, as statements that run on the server's version, and the
long-running active queries that hold slots.

Server-wide: TCP keepalives (a vanished client's session is closed), and from PostgreSQL 14
client_connection_check_interval (a query whose client is gone is cancelled). Per role:
idle_in_transaction_session_timeout, idle_session_timeout (14+), and for roles with long
active queries statement_timeout and transaction_timeout (17+). Role settings apply to the
role's new sessions; ALTER SYSTEM ones after `SELECT pg_reload_conf()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.diagnostics.model import SessionGroup, Snapshot
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.thresholds import Thresholds

KEEPALIVE = (60, 10, 6)  # idle, interval (s), count: a dead peer is found in about 2 minutes
CHECK_INTERVAL = "10s"
_ROLE_CODES = (
    FindingCode.ROLE_LIMIT,
    FindingCode.IDLE_SESSIONS,
    FindingCode.IDLE_IN_TRANSACTION,
)
_SERVER_CODES = (
    FindingCode.MAX_CONNECTIONS,
    FindingCode.RESERVED_SLOTS,
    FindingCode.SERVER_NEAR_FULL,
)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def server_statements(snapshot: Snapshot) -> list[str]:
    s = snapshot.settings
    major = snapshot.server_version_num // 10000
    out = []
    idle, interval, count = KEEPALIVE
    if s.tcp_keepalives_idle_s == 0 or s.tcp_keepalives_idle_s > idle:
        out.append(
            f"TCP keepalives (tcp_keepalives_idle is {s.tcp_keepalives_idle_s} s now, 0 = the "
            f"system's, often 2 hours): ALTER SYSTEM SET tcp_keepalives_idle = {idle}; ALTER "
            f"SYSTEM SET tcp_keepalives_interval = {interval}; ALTER SYSTEM SET "
            f"tcp_keepalives_count = {count}; SELECT pg_reload_conf(); — a vanished client's "
            f"session is closed after about {idle + interval * count} s."
        )
    if major >= 14:
        out.append(
            "Cancel queries whose client has gone (PostgreSQL 14+): ALTER SYSTEM SET "
            f"client_connection_check_interval = '{CHECK_INTERVAL}'; SELECT pg_reload_conf();"
        )
    elif major:
        out.append(
            f"client_connection_check_interval needs PostgreSQL 14 (this is {major}): rely on "
            "the keepalives."
        )
    return out


def role_statements(snapshot: Snapshot, role: str, t: Thresholds) -> list[str]:
    s = snapshot.settings
    major = snapshot.server_version_num // 10000
    r = _ident(role)
    out = []
    if s.idle_in_transaction_session_timeout_ms == 0:
        out.append(
            f"ALTER ROLE {r} SET idle_in_transaction_session_timeout = '{t.idle_tx_timeout}';"
        )
    if major >= 14 and not s.idle_session_timeout_ms:
        out.append(
            f"ALTER ROLE {r} SET idle_session_timeout = '{t.idle_session_timeout}'; (only if "
            "its clients do not keep pooled connections idle on purpose)"
        )
    return out


def long_active(
    snapshot: Snapshot, role: str | None, min_age_s: float
) -> tuple[list[SessionGroup], float]:
    """Groups of active sessions whose oldest has run longer than `min_age_s`, and that age."""
    now: datetime = snapshot.taken_at
    groups = [
        g
        for g in snapshot.groups
        if g.state == "active"
        and (role is None or g.role == role)
        and g.oldest_state_change is not None
        and (now - g.oldest_state_change).total_seconds() >= min_age_s
    ]
    oldest = max(
        ((now - g.oldest_state_change).total_seconds() for g in groups if g.oldest_state_change),
        default=0.0,
    )
    return groups, oldest


def _long_lines(snapshot: Snapshot, role: str, t: Thresholds) -> list[str]:
    groups, oldest = long_active(snapshot, role, t.idle_tx_min_age_s)
    if not groups:
        return []
    major = snapshot.server_version_num // 10000
    n = sum(g.count for g in groups)
    apps = ", ".join(sorted({f'"{g.application}" from {g.client}' for g in groups}))
    limit_s = max(int(oldest // 60) * 60, 60)
    r = _ident(role)
    return [
        f"{n} active session(s) of role {role} have run longer than {t.idle_tx_min_age_s} s "
        f"(triage.idle_in_transaction_seconds; the longest {oldest:.0f} s, {apps}): they hold "
        "their slots until they finish. The playbook's SQL lists them; pg_blocking_pids(pid) "
        "shows whom each waits for.",
        f"Bound them: ALTER ROLE {r} SET statement_timeout = '{limit_s}s';"
        + (
            f" ALTER ROLE {r} SET transaction_timeout = '{limit_s * 2}s'; (PostgreSQL 17+)"
            if major >= 17
            else f" (transaction_timeout needs PostgreSQL 17; this is {major})"
        ),
    ]


def advise(drafts: Sequence[Draft], snapshot: Snapshot | None, t: Thresholds) -> None:
    """Add the statements to the findings they relieve: per role, and once for the server."""
    if snapshot is None or not snapshot.server_version_num:
        return  # a paste without the version: no statement can be fitted to it
    done: set[str] = set()
    for d in drafts:
        if d.code in _ROLE_CODES and d.role is not None and d.role not in done:
            done.add(d.role)
            role_lines = role_statements(snapshot, d.role, t)
            if role_lines:
                d.advice.append(
                    f"Settings that give {d.role}'s slots back: " + " ".join(role_lines)
                )
            d.evidence.extend(_long_lines(snapshot, d.role, t))
    server = next((d for d in drafts if d.code in _SERVER_CODES), None)
    target = server or next((d for d in drafts if d.code in _ROLE_CODES), None)
    if target is not None:
        target.advice.extend(server_statements(snapshot))
