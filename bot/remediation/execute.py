"""Run an approved Proposal on the admin connection, re-checking everything on the live server.

Sessions: one statement checks each target (same pid, same backend_start, still matching the
selection, still allowed by the hard limits) and signals it in the same row, so nothing can
change in between; targets left alone come back with what the server sees now, which says why.
Changes: in one transaction, the live value is compared with what the approver saw, and the
statement runs only if it has not moved.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row

from bot.remediation import admin, live
from bot.remediation.model import (
    OWN_APPLICATIONS,
    Change,
    Criteria,
    ExecutionResult,
    Proposal,
    Skipped,
    Target,
)
from bot.remediation.policy import Policy
from bot.remediation.propose import CONN_LIMIT, session_statement_name, session_values
from bot.triage.model import ActionKind
from bot.triage.units import human_duration

log = logging.getLogger(__name__)

# A terminated backend exits within milliseconds unless it is stuck in the kernel; pgconn waits
# this long for the slots to be free before it reports.
WAIT_GONE_S = 3.0


@dataclass(frozen=True, slots=True)
class _Checked:
    """A row of admin_terminate / admin_cancel: the target and what the server sees now."""

    pid: int
    backend_start: datetime
    present: bool
    live_backend_start: datetime | None
    role: str | None
    database: str | None
    application: str | None
    client: str | None
    state: str | None
    query_start: datetime | None
    state_age_s: float | None
    backend_type: str | None
    superuser: bool | None
    admin_is_superuser: bool | None
    signalled: bool | None


def run(
    conn: psycopg.Connection[Any],
    proposal: Proposal,
    policy: Policy,
    *,
    wait_gone_s: float = WAIT_GONE_S,
    sleep: Callable[[float], None] = time.sleep,
) -> ExecutionResult:
    """Raises psycopg.Error when a statement fails (the caller records the failure)."""
    if proposal.on_sessions:
        return _signal(conn, proposal, policy, wait_gone_s, sleep)
    return _change(conn, proposal)


# --- sessions -------------------------------------------------------------------------------


def _signal(
    conn: psycopg.Connection[Any],
    proposal: Proposal,
    policy: Policy,
    wait_gone_s: float,
    sleep: Callable[[float], None],
) -> ExecutionResult:
    assert proposal.criteria is not None
    name = session_statement_name(proposal.kind)
    version = conn.info.server_version
    values = session_values(proposal.kind, proposal.criteria, proposal.targets, policy)
    with conn.cursor(row_factory=class_row(_Checked)) as cur:
        cur.execute(admin.compose(name, version, values=values), values)
        rows = cur.fetchall()
    by_pid = {t.pid: t for t in proposal.targets}
    signalled: list[Target] = []
    skipped: list[Skipped] = []
    for row in rows:
        target = by_pid[row.pid]
        if row.signalled:
            signalled.append(target)
        else:
            skipped.append(Skipped(row.pid, why_skipped(row, target, proposal, policy)))
    gone: set[int] = set()
    if proposal.kind is ActionKind.TERMINATE and signalled:
        gone = _wait_gone(conn, signalled, wait_gone_s, sleep)
    return ExecutionResult(
        kind=proposal.kind,
        statement=admin.display(name, version, values=values),
        signalled=tuple(t.pid for t in signalled),
        gone=tuple(sorted(gone)),
        skipped=tuple(skipped),
        changed=bool(signalled),
        freed=_freed(proposal.kind, signalled, gone),
    )


def _wait_gone(
    conn: psycopg.Connection[Any],
    targets: list[Target],
    wait_s: float,
    sleep: Callable[[float], None],
) -> set[int]:
    pids = [t.pid for t in targets]
    starts = [t.backend_start for t in targets]
    deadline = time.monotonic() + wait_s
    while True:
        still = live.remaining(conn, pids, starts)
        if not still or time.monotonic() >= deadline:
            return set(pids) - still
        sleep(0.05)


def _freed(kind: ActionKind, signalled: list[Target], gone: set[int]) -> str:
    if not signalled:
        return "nothing: every target had changed, so none was signalled"
    if kind is ActionKind.CANCEL:
        return (
            f"the running queries of {len(signalled)} session(s) were cancelled; no slot "
            "is freed, the sessions stay connected"
        )
    text = f"{len(gone)} connection slot(s)"
    if len(gone) < len(signalled):
        text += (
            f"; {len(signalled) - len(gone)} terminated session(s) had not exited yet "
            "when pgconn last looked"
        )
    return text


def why_skipped(row: _Checked, target: Target, proposal: Proposal, policy: Policy) -> str:
    """What changed since the request, in words, from what the server sees now."""
    c = proposal.criteria or Criteria()
    if not row.present:
        return "the session had already ended"
    if row.live_backend_start != target.backend_start:
        return (
            f"pid {row.pid} is now a different session (started "
            f"{_when(row.live_backend_start)}, the approved one {_when(target.backend_start)})"
            "; the approved session ended and its pid was reused"
        )
    if row.backend_type != "client backend":
        return f"not a client backend ({row.backend_type or 'type hidden'})"
    if row.application in OWN_APPLICATIONS:
        return "pgconn's own session"
    if row.superuser and not policy.allow_superuser_targets:
        return "a superuser's session (allow_superuser_targets is off)"
    if row.superuser and not row.admin_is_superuser:
        return "a superuser's session, and the admin role is not a superuser"
    for label, want, have in (
        ("role", c.role, row.role),
        ("database", c.database, row.database),
        ("application", c.application, row.application),
        ("client", c.client, row.client),
    ):
        if want is not None and have != want:
            return f'its {label} is now "{have}", not "{want}"'
    if row.state is None:
        return "its state is hidden from the admin role; grant it pg_read_all_stats (or pg_monitor)"
    if c.states is not None and row.state not in c.states:
        return f"it is now {row.state}, no longer {' or '.join(c.states)}"
    if row.state_age_s is not None and row.state_age_s < c.min_age_s:
        return (
            f"it has been {row.state} for only {human_duration(row.state_age_s)}, under "
            f"the {human_duration(c.min_age_s)} of the request: it was used since"
        )
    if proposal.kind is ActionKind.CANCEL and row.query_start != target.query_start:
        return "it now runs a different query than the approved one"
    if row.signalled is False:
        return "the server did not accept the signal (the backend was exiting)"
    return "it no longer matches the approved selection"


def _when(ts: datetime | None) -> str:
    return ts.isoformat(sep=" ", timespec="seconds") if ts else "?"


# --- limits and settings --------------------------------------------------------------------


def _change_parts(proposal: Proposal) -> tuple[str, dict[str, str], dict[str, Any]]:
    """(SQL file, identifiers, values) of a change."""
    c = proposal.change
    assert c is not None
    if proposal.kind is ActionKind.SET_ROLE_CONN_LIMIT:
        return "admin_alter_role_conn_limit", {"role": c.name}, {"limit": c.after}
    if proposal.kind is ActionKind.SET_DATABASE_CONN_LIMIT:
        return "admin_alter_database_conn_limit", {"database": c.name}, {"limit": c.after}
    return "admin_alter_role_idle_tx_timeout", {"role": c.name}, {"timeout": c.after}


def live_value(conn: psycopg.Connection[Any], c: Change) -> tuple[bool, int | str | None]:
    """(exists, the live value the change would replace)."""
    if c.object_kind == "database":
        db = live.database(conn, c.name)
        return (db is not None, db.conn_limit if db else None)
    role = live.role(conn, c.name)
    if role is None:
        return False, None
    return True, role.conn_limit if c.setting == CONN_LIMIT else role.setting(c.setting)


def _change(conn: psycopg.Connection[Any], proposal: Proposal) -> ExecutionResult:
    c = proposal.change
    assert c is not None
    # Utility statements take no parameters: the values are literals quoted by psycopg, and
    # the statement that runs is exactly the one shown.
    name, identifiers, values = _change_parts(proposal)
    statement = admin.compose(
        name, conn.info.server_version, identifiers=identifiers, values=values, shown=True
    )
    shown = statement.as_string(conn)
    skipped: tuple[Skipped, ...] = ()
    changed = False
    with conn.transaction():
        exists, now = live_value(conn, c)
        if not exists:
            skipped = (Skipped(0, f'{c.object_kind} "{c.name}" no longer exists'),)
        elif now != c.before:
            skipped = (
                Skipped(
                    0,
                    f'{c.setting} of {c.object_kind} "{c.name}" changed since '
                    f"the request ({c.before} → {now}); left alone",
                ),
            )
        else:
            conn.execute(statement)
            changed = True
    was = "not set" if c.before is None else c.before
    freed = (
        f'{c.object_kind} "{c.name}": {c.setting} is now {c.after} (was {was})'
        if changed
        else "nothing: the statement did not run"
    )
    return ExecutionResult(
        kind=proposal.kind, statement=shown, skipped=skipped, changed=changed, freed=freed
    )
