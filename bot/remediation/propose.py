"""From a ProposedAction to the exact Proposal an approver sees: sessions read live and
filtered by the hard limits, or the exact statement and the live value it changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import psycopg

from bot.remediation import live, params
from bot.remediation.admin import display
from bot.remediation.errors import InvalidActionError, NotConfiguredError, NothingToDoError
from bot.remediation.model import (
    OWN_APPLICATIONS,
    Change,
    Criteria,
    Excluded,
    Proposal,
    Target,
)
from bot.remediation.policy import Policy
from bot.triage.model import ActionKind, ProposedAction
from bot.words import plural

IDLE_TX_SETTING = "idle_in_transaction_session_timeout"
CONN_LIMIT = "CONNECTION LIMIT"
# Sessions left alone are all counted in the blast radius; this many are kept by pid.
EXCLUDED_KEPT = 100


def propose(
    conn: psycopg.Connection[Any], cluster: str, action: ProposedAction, policy: Policy
) -> Proposal:
    """Read what the action would touch now. Raises InvalidActionError or NothingToDoError."""
    if action.kind in (ActionKind.TERMINATE, ActionKind.CANCEL):
        return _sessions(conn, cluster, action, policy)
    if action.kind is ActionKind.SET_ROLE_CONN_LIMIT:
        return _role_limit(conn, cluster, action)
    if action.kind is ActionKind.SET_DATABASE_CONN_LIMIT:
        return _database_limit(conn, cluster, action)
    if action.kind is ActionKind.SET_ROLE_IDLE_TX_TIMEOUT:
        return _idle_tx_timeout(conn, cluster, action)
    raise InvalidActionError(f"pgconn cannot run {action.kind!s} actions")


# --- sessions -------------------------------------------------------------------------------


def exclusion(s: live.LiveSession, policy: Policy, admin_superuser: bool) -> str | None:
    """Why a hard limit leaves this session alone, or None."""
    if s.own or s.application in OWN_APPLICATIONS:
        return "pgconn's own session"
    if s.backend_type != "client backend":
        return f"not a client backend ({s.backend_type or 'type hidden'})"
    if s.superuser and not policy.allow_superuser_targets:
        return "a superuser's session (allow_superuser_targets is off)"
    if s.superuser and not admin_superuser:
        return "a superuser's session, and the admin role is not a superuser"
    return None


def session_values(
    kind: ActionKind, c: Criteria, targets: tuple[Target, ...], policy: Policy
) -> dict[str, Any]:
    """The values of admin_terminate / admin_cancel for these targets."""
    values: dict[str, Any] = {
        **live.criteria_values(c),
        "own_applications": list(OWN_APPLICATIONS),
        "allow_superuser": policy.allow_superuser_targets,
        "pids": [t.pid for t in targets],
        "backend_starts": [t.backend_start for t in targets],
    }
    if kind is ActionKind.CANCEL:
        values["query_starts"] = [t.query_start for t in targets]
    return values


def session_statement_name(kind: ActionKind) -> str:
    return "admin_cancel" if kind is ActionKind.CANCEL else "admin_terminate"


def _target(s: live.LiveSession) -> Target:
    return Target(
        pid=s.pid,
        backend_start=s.backend_start,
        role=s.role,
        database=s.database,
        application=s.application,
        client=s.client,
        state=s.state,
        state_age_s=s.state_age_s,
        query_start=s.query_start,
        query=s.query,
    )


def _sessions(
    conn: psycopg.Connection[Any], cluster: str, action: ProposedAction, policy: Policy
) -> Proposal:
    c = params.criteria(action)
    me = live.whoami(conn)
    found = live.matching_sessions(conn, c)
    eligible: list[Target] = []
    excluded: list[Excluded] = []
    for s in found:
        reason = exclusion(s, policy, me.superuser)
        if reason:
            excluded.append(Excluded(s.pid, s.role, s.application, reason))
        else:
            eligible.append(_target(s))
    targets = tuple(eligible[: policy.max_sessions])
    over_cap = len(eligible) - len(targets)
    notes = _privilege_notes(me)
    if not targets:
        left_out = f" ({_excluded_text(excluded)})" if excluded else ""
        raise NothingToDoError(
            f"No session matches now: {c.describe()}{left_out}. Nothing to approve; "
            "diagnose again to see the current sessions." + (f" {notes[0]}" if notes else "")
        )
    verb = "Cancel the running queries of" if action.kind is ActionKind.CANCEL else "Terminate"
    title = f"{verb} {plural(len(targets), 'session')}: {c.describe()}"
    role_row = live.role(conn, c.role) if c.role is not None else None
    statement = display(
        session_statement_name(action.kind),
        conn.info.server_version,
        values=session_values(action.kind, c, targets, policy),
    )
    return Proposal(
        cluster=cluster,
        kind=action.kind,
        title=title,
        statement=statement,
        blast_radius=_session_radius(
            action.kind,
            targets,
            excluded,
            over_cap,
            policy,
            role_row,
            len(found) >= live.SCAN_LIMIT,
        ),
        criteria=c,
        targets=targets,
        excluded=tuple(excluded[:EXCLUDED_KEPT]),
        over_cap=over_cap,
        notes=tuple(notes),
    )


def _privilege_notes(me: live.AdminRole) -> list[str]:
    notes = []
    if not me.sees_all:
        notes.append(
            f"The admin role {me.role} cannot see other roles' session states; grant it "
            "pg_read_all_stats (or pg_monitor) so fixes can select them."
        )
    if not me.can_signal:
        notes.append(
            f"The admin role {me.role} may not signal other roles' sessions; grant it "
            "pg_signal_backend."
        )
    return notes


def _excluded_text(excluded: list[Excluded]) -> str:
    counts: dict[str, int] = {}
    for e in excluded:
        counts[e.reason] = counts.get(e.reason, 0) + 1
    return "left alone: " + "; ".join(f"{n} × {reason}" for reason, n in counts.items())


def _session_radius(
    kind: ActionKind,
    targets: tuple[Target, ...],
    excluded: list[Excluded],
    over_cap: int,
    policy: Policy,
    role_row: live.RoleRow | None,
    truncated: bool,
) -> str:
    n = len(targets)
    roles = sorted({t.role or "?" for t in targets})
    if kind is ActionKind.CANCEL:
        text = (
            f"Cancels the running query of {plural(n, 'session')} (roles: {', '.join(roles)}). "
            "Frees no connection slot: the sessions stay connected; their transactions "
            "are rolled back."
        )
    else:
        in_tx = sum(1 for t in targets if t.state and t.state.startswith("idle in transaction"))
        text = (
            f"Ends {plural(n, 'session')} of {', '.join(roles)} and frees "
            f"{plural(n, 'connection slot')} "
            "of the server"
        )
        if role_row is not None and role_row.conn_limit >= 0:
            text += (
                f" and of role {role_row.name} ({role_row.current} of its "
                f"{role_row.conn_limit} in use now)"
            )
        text += "."
        if in_tx:
            text += f" {in_tx} of them are in a transaction, which is rolled back."
    if excluded:
        text += f" Matching sessions {_excluded_text(excluded)}."
    if over_cap:
        more = "at least " if truncated else ""
        text += (
            f" {more}{over_cap} more match but max_sessions_per_action is "
            f"{policy.max_sessions}: request again after this one runs."
        )
    return text


# --- limits and settings --------------------------------------------------------------------


def _role_limit(conn: psycopg.Connection[Any], cluster: str, action: ProposedAction) -> Proposal:
    return _conn_limit(conn, cluster, action, "role", live.role)


def _database_limit(
    conn: psycopg.Connection[Any], cluster: str, action: ProposedAction
) -> Proposal:
    return _conn_limit(conn, cluster, action, "database", live.database)


class _Limited(Protocol):
    @property
    def conn_limit(self) -> int: ...
    @property
    def current(self) -> int: ...
    @property
    def may_alter(self) -> bool: ...


def _conn_limit(
    conn: psycopg.Connection[Any],
    cluster: str,
    action: ProposedAction,
    entity: str,
    lookup: Callable[[psycopg.Connection[Any], str], _Limited | None],
) -> Proposal:
    """A role's or a database's CONNECTION LIMIT change, against its live value."""
    want = params.limit_change(action)
    row = lookup(conn, want.name)
    if row is None:
        raise InvalidActionError(f'{entity} "{want.name}" does not exist on {cluster}')
    if row.conn_limit == want.limit:
        raise NothingToDoError(
            f'{entity} "{want.name}" already has CONNECTION LIMIT {want.limit}; nothing to approve'
        )
    change = Change(entity, want.name, CONN_LIMIT, row.conn_limit, want.limit, row.current)
    statement = display(
        f"admin_alter_{entity}_conn_limit",
        conn.info.server_version,
        identifiers={entity: want.name},
        values={"limit": want.limit},
    )
    _check_may_alter(row.may_alter, entity, want.name, statement)
    return Proposal(
        cluster=cluster,
        kind=action.kind,
        title=f'Set {entity} "{want.name}" CONNECTION LIMIT {row.conn_limit} → {want.limit}',
        statement=statement,
        blast_radius=_limit_radius(change),
        change=change,
    )


_ALTER_NEEDS = {
    "role": "ALTER ROLE needs CREATEROLE (on PostgreSQL 16+ also ADMIN OPTION on that role), "
    "and a superuser role only a superuser may alter",
    "database": "only the database's owner or a superuser may ALTER DATABASE",
}


def _check_may_alter(may_alter: bool, kind: str, name: str, statement: str) -> None:
    """Refuse up front a change the admin role is not allowed to make: an approval that can
    only fail helps nobody."""
    if not may_alter:
        raise NotConfiguredError(
            f'The admin role may not change {kind} "{name}": {_ALTER_NEEDS[kind]} (see '
            f"deploy/sql/remediation-role.sql). A person with that right can run: {statement}"
        )


def _limit_text(limit: int | str | None) -> str:
    return "no limit (-1)" if limit == -1 else str(limit)


def _limit_radius(c: Change) -> str:
    assert isinstance(c.after, int)
    assert isinstance(c.before, int)
    now = (
        f"{plural(c.current_sessions, 'connection')} now" if c.current_sessions is not None else ""
    )
    head = (
        f'{c.object_kind.capitalize()} "{c.name}": CONNECTION LIMIT '
        f"{_limit_text(c.before)} → {_limit_text(c.after)} ({now}). "
    )
    if c.after == -1:
        return head + "Removes the limit; frees no slot, lets new connections in."
    if c.before != -1 and c.after > c.before:
        return head + (
            f"Lets {plural(c.after - c.before, 'more connection')} in; frees no slot and ends "
            "no session."
        )
    over = (c.current_sessions or 0) - c.after
    tail = (
        f" {plural(over, 'session')} over the new limit stay connected; new ones are refused "
        "until enough of them end."
        if over > 0
        else ""
    )
    return head + "Lowers the limit; ends no session." + tail


def _idle_tx_timeout(
    conn: psycopg.Connection[Any], cluster: str, action: ProposedAction
) -> Proposal:
    want = params.timeout_change(action)
    row = live.role(conn, want.role)
    if row is None:
        raise InvalidActionError(f'role "{want.role}" does not exist on {cluster}')
    before = row.setting(IDLE_TX_SETTING)
    if before == want.timeout:
        raise NothingToDoError(
            f'role "{want.role}" already has {IDLE_TX_SETTING} = {want.timeout}; nothing to approve'
        )
    change = Change("role", want.role, IDLE_TX_SETTING, before, want.timeout, row.current)
    statement = display(
        "admin_alter_role_idle_tx_timeout",
        conn.info.server_version,
        identifiers={"role": want.role},
        values={"timeout": want.timeout},
    )
    _check_may_alter(row.may_alter, "role", want.role, statement)
    was = f"now {before}" if before is not None else "now not set for the role"
    radius = (
        f'Role "{want.role}": {IDLE_TX_SETTING} = {want.timeout} ({was}). New sessions of '
        f"{want.role} are ended after {want.timeout} idle in a transaction; the "
        f"{plural(row.current, 'open session')} keep their setting until they reconnect. Frees "
        "nothing now; keeps leaked transactions from holding slots again."
    )
    return Proposal(
        cluster=cluster,
        kind=action.kind,
        title=f'Set {IDLE_TX_SETTING} = {want.timeout} for role "{want.role}"',
        statement=statement,
        blast_radius=radius,
        change=change,
    )
