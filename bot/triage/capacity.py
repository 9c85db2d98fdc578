"""Limits that are full or nearly full, read from a live snapshot: roles, databases, the server."""

from __future__ import annotations

from collections.abc import Sequence

from bot.diagnostics.model import DatabaseUsage, RoleUsage, Snapshot
from bot.headroom import Headroom
from bot.triage import actions
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.facts import (
    DatabaseFacts,
    Placeholder,
    RoleFacts,
    raised_limit,
    server_facts,
)
from bot.triage.model import ActionKind, ProposedAction, Severity
from bot.triage.sessions import Scope, StateCounts, describe_source, state_counts, top_holders
from bot.triage.thresholds import Thresholds
from bot.triage.units import human_duration


def _severity(room: Headroom, t: Thresholds) -> Severity | None:
    if not room.limited:
        return None
    if room.full:
        return Severity.CRITICAL
    if room.share >= t.near_ratio:
        return Severity.WARNING
    return None


def _how_full(room: Headroom) -> str:
    figures = f"{room.used}/{room.usable}"
    if room.over:
        return f"over its connection limit ({figures}, {room.over} more beyond it)"
    if room.full:
        return f"at its connection limit ({figures})"
    return f"near its connection limit ({figures})"


def describe_states(c: StateCounts, monitoring_role: str) -> list[str]:
    """Evidence lines on what the sessions are doing; unseen states are said to be unseen."""
    if c.total == 0:
        return []
    parts = [
        f"{n} {label}"
        for n, label in (
            (c.active, "active"),
            (c.idle, "idle"),
            (c.idle_in_transaction, "idle in transaction"),
            (c.other, "in another state"),
        )
        if n
    ]
    lines = []
    if parts:
        lines.append("By state: " + ", ".join(parts) + ".")
    if c.unknown:
        lines.append(
            f"The state of {c.unknown} of {c.total} session(s) is hidden from monitoring role "
            f"{monitoring_role}, so they are not counted as idle or active; grant it pg_monitor "
            "to see them."
        )
    return lines


def state_cause(
    c: StateCounts, ages: Sequence[float] = (), idle_min_age_s: float | None = None
) -> str | None:
    """What most sessions are doing, for a headline: working (load) or waiting (held slots),
    with the idle ages it rests on. Sessions stuck for long make a sharper cause, which
    replaces this one when there is one."""
    waiting = c.idle + c.idle_in_transaction
    if c.total and c.active * 2 >= c.total:
        return f"{c.active} of {c.total} sessions active — real load or slow queries"
    if c.total and waiting * 2 >= c.total:
        also = f", {c.idle_in_transaction} idle in transaction" if c.idle_in_transaction else ""
        if not ages:
            return f"{c.idle} of {c.total} sessions idle{also}"
        span = age_span(ages)
        if idle_min_age_s is not None and min(ages) > idle_min_age_s:
            return (
                f"{c.idle} of {c.total} sessions idle{also} ({span}) — slots held by clients "
                "doing nothing"
            )
        return f"{c.idle} of {c.total} sessions idle{also} ({span})"
    return None


def age_span(ages: Sequence[float]) -> str:
    """`idle 3 s to 25 min`, `idle 12 s`: the ages an idleness claim rests on."""
    low, high = human_duration(min(ages)), human_duration(max(ages))
    return f"idle {low}" if low == high else f"idle {low} to {high}"


def idle_ages(snapshot: Snapshot, scope: Scope) -> list[float]:
    """Ages of the scope's idle sessions, oldest first (from the snapshot's oldest list)."""
    return [
        s.state_age_s
        for s in snapshot.oldest_idle
        if s.state_age_s is not None and scope.holds(s.role, s.database)
    ]


def client_hosts(snapshot: Snapshot, scope: Scope) -> int | None:
    """Distinct client hosts the scope's sessions come from (an estimate of an application's
    replicas), or None when some clients are hidden from the monitoring role."""
    hosts = {g.client for g in snapshot.groups if scope.holds(g.role, g.database)}
    if (
        not hosts
        or "?" in hosts
        or any(g.state is None for g in snapshot.groups if scope.holds(g.role, g.database))
    ):
        return None
    return len(hosts)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pool_sizing(limit: int, hosts: int | None) -> str:
    """Pool size per replica that keeps every replica's pool within `limit`."""
    if hosts is None:
        return (
            "How many replicas share this limit is unknown (some clients are hidden from the "
            "monitoring role): size each pool at most CONNECTION LIMIT ÷ replicas."
        )
    per = limit // hosts
    if per < 1:
        return (
            f"The sessions come from {_plural(hosts, 'client host')} (an estimate of the "
            f"application's replicas), more than the limit of {limit}: even one connection "
            "each does not fit; raise the limit or put a pooler in front."
        )
    return (
        f"The sessions come from {_plural(hosts, 'client host')} (an estimate of the "
        f"application's replicas from the distinct client addresses): a pool of at most {per} "
        f"per replica fits ({hosts} × {per} = {hosts * per} ≤ {limit})."
    )


def describe_holders(snapshot: Snapshot, scope: Scope, total: int) -> list[str]:
    holders = top_holders(snapshot.groups, scope)
    if not holders or total == 0:
        return []
    parts = [
        (f"role {h.role}, " if scope.role is None and h.role else "")
        + f"{describe_source(h.application, h.client)} ({h.count})"
        for h in holders
    ]
    return ["Most sessions come from " + "; ".join(parts) + "."]


def room_line(snapshot: Snapshot, new_limit: int | Placeholder, what: str) -> str:
    free = snapshot.ordinary_free
    slots = "slot" if free == 1 else "slots"
    if isinstance(new_limit, Placeholder):
        return (
            f"The server has {free} ordinary {slots} free: raising {what}'s limit "
            "would only move the refusals to the server."
        )
    return (
        f"The server has {free} ordinary {slots} free, enough to raise {what}'s limit "
        f"to {new_limit} if the load is real."
    )


def usage_line(room: Headroom, subject: str) -> str:
    """`Role app_user holds 7 of its 8 connections (88%, CONNECTION LIMIT 8), 1 free.`, with
    how the usable number follows from the limit when pgconn's sessions take part of it."""
    line = (
        f"{subject} {room.used} of its {room.usable} connections ({room.percent}%, "
        f"CONNECTION LIMIT {room.limit}), {room.free} free"
    )
    if room.over:
        line += f", and {room.over} more beyond the limit (it was lowered below them)"
    if room.own:
        line += f"; {room.basis()}"
    return line + "."


def role_drafts(
    snapshot: Snapshot, t: Thresholds, cluster: str | None, focus_role: str | None
) -> list[Draft]:
    drafts = []
    for r in snapshot.roles:
        if focus_role is not None and r.name != focus_role:
            continue
        if r.conn_limit <= 0 or r.superuser or not r.can_login:
            continue
        severity = _severity(snapshot.role_headroom(r.name), t)
        if severity is not None:
            drafts.append(role_draft(snapshot, r, severity, t, cluster))
    return drafts


def role_draft(
    snapshot: Snapshot, r: RoleUsage, severity: Severity, t: Thresholds, cluster: str | None
) -> Draft:
    scope = Scope(role=r.name)
    c = state_counts(snapshot.groups, scope)
    room = snapshot.role_headroom(r.name)
    new_limit = raised_limit(r.conn_limit, snapshot.ordinary_free, t.raise_share)
    server = server_facts(snapshot, t, cluster=cluster, role=r.name)
    extra = RoleFacts(
        role_limit=r.conn_limit,
        role_current=room.used,
        role_free=room.free or 0,
        new_role_limit=new_limit,
        role_active=c.active,
        role_idle=c.idle,
        role_idle_in_transaction=c.idle_in_transaction,
        **_hosts_facts(r.conn_limit, client_hosts(snapshot, scope)),
    )
    refused = " New connections for it are refused." if room.full else ""
    draft = Draft(
        code=FindingCode.ROLE_LIMIT,
        severity=severity,
        title=f"Role {r.name} is {_how_full(room)}",
        server=server,
        extra=extra,
        evidence=[
            usage_line(room, f"Role {r.name} holds") + refused,
            *describe_states(c, snapshot.monitoring_role),
            *describe_holders(snapshot, scope, c.total),
            room_line(snapshot, new_limit, r.name),
        ],
        role=r.name,
        current=room.used,
        limit=room.usable,
        pressure=room.sessions / max(room.usable or 0, 1) if room.over else room.share,
        cause=state_cause(c, idle_ages(snapshot, scope), t.idle_min_age_s),
        headroom=room,
    )
    _relief(draft, snapshot, r, room, new_limit, t)
    return draft


def _hosts_facts(limit: int, hosts: int | None) -> dict[str, int | Placeholder]:
    if hosts is None:
        return {}
    per = limit // hosts
    return {
        "role_hosts": hosts,
        "role_pool_per_host": per if per >= 1 else Placeholder("pool per host: none fits"),
    }


def _relief(
    draft: Draft,
    snapshot: Snapshot,
    r: RoleUsage,
    room: Headroom,
    new_limit: int | Placeholder,
    t: Thresholds,
) -> None:
    """The fix that fits a full role, and why: raise the limit when the server has room; end
    the oldest idle sessions when it has none and others are refused; and the pool sizing
    that keeps the replicas within the limit."""
    scope = Scope(role=r.name)
    ages = idle_ages(snapshot, scope)
    _idle_evidence(draft, snapshot, scope, t)
    draft.evidence.append(pool_sizing(r.conn_limit, client_hosts(snapshot, scope)))
    if isinstance(new_limit, int):
        draft.actions.append(actions.raise_role_limit(r.name, r.conn_limit, new_limit))
        if room.full:
            draft.evidence.append(
                f"Why raise the limit: {r.name} is refused new connections and the server has "
                f"{snapshot.ordinary_free} ordinary slots free, so a higher limit lets it in "
                "at once without ending anyone's session."
            )
        return
    young = [a for a in ages if a <= t.idle_min_age_s]
    if not room.full or not young:
        return
    # Others are refused and the server has no room: free the oldest idle slots now.
    k = min(len(ages), max(1, -(-r.conn_limit // 4)))
    min_age = int(ages[k - 1])
    draft.actions.append(
        ProposedAction(
            kind=ActionKind.TERMINATE,
            title=f"Terminate {r.name}'s {_plural(k, 'oldest idle session')}",
            summary=(
                f"Ends the idle sessions of {r.name} idle for {human_duration(min_age)} or more "
                f"({_plural(k, 'session')} now) and frees their slots; a pool reconnects when "
                "it needs to."
            ),
            params={"role": r.name, "state": "idle", "min_age_s": min_age},
        )
    )
    draft.evidence.append(
        f"Why end sessions: {r.name} is refused new connections and the server has no free "
        f"ordinary slot to raise its limit into; its {_plural(k, 'oldest idle session')} "
        f"(idle {human_duration(min_age)} or more) give slots back at once."
    )


def database_drafts(
    snapshot: Snapshot, t: Thresholds, cluster: str | None, focus_role: str | None
) -> list[Draft]:
    drafts = []
    for d in snapshot.databases:
        if d.conn_limit <= 0 or not d.allow_connections:
            continue
        severity = _severity(snapshot.database_headroom(d.name), t)
        if severity is None:
            continue
        if (
            focus_role is not None
            and not state_counts(snapshot.groups, Scope(role=focus_role, database=d.name)).total
        ):
            continue
        drafts.append(database_draft(snapshot, d, severity, t, cluster, focus_role))
    return drafts


def database_draft(
    snapshot: Snapshot,
    d: DatabaseUsage,
    severity: Severity,
    t: Thresholds,
    cluster: str | None,
    focus_role: str | None,
) -> Draft:
    scope = Scope(role=focus_role, database=d.name)
    c = state_counts(snapshot.groups, scope)
    room = snapshot.database_headroom(d.name)
    new_limit = raised_limit(d.conn_limit, snapshot.ordinary_free, t.raise_share)
    extra = DatabaseFacts(
        database_limit=d.conn_limit,
        database_current=room.used,
        database_free=room.free or 0,
        new_database_limit=new_limit,
    )
    refused = " New connections to it are refused." if room.full else ""
    evidence = [usage_line(room, f"Database {d.name}, CONNECTION LIMIT {d.conn_limit}") + refused]
    if focus_role is not None:
        evidence.append(f"Role {focus_role} holds {c.total} of them.")
    evidence += [
        *describe_states(c, snapshot.monitoring_role),
        *describe_holders(snapshot, scope, c.total),
        room_line(snapshot, new_limit, d.name),
    ]
    draft = Draft(
        code=FindingCode.DATABASE_LIMIT,
        severity=severity,
        title=f"Database {d.name} is {_how_full(room)}",
        server=server_facts(snapshot, t, cluster=cluster, role=focus_role, database=d.name),
        extra=extra,
        evidence=evidence,
        database=d.name,
        current=room.used,
        limit=room.usable,
        pressure=room.sessions / max(room.usable or 0, 1) if room.over else room.share,
        cause=state_cause(c, idle_ages(snapshot, scope), t.idle_min_age_s),
        headroom=room,
    )
    if isinstance(new_limit, int):
        draft.actions.append(actions.raise_database_limit(d.name, d.conn_limit, new_limit))
    _idle_evidence(draft, snapshot, scope, t)
    if room.full and isinstance(new_limit, int):
        draft.evidence.append(
            f"Why raise the limit: database {d.name} refuses new connections and the server "
            f"has {snapshot.ordinary_free} ordinary slots free, so a higher limit lets them in "
            "at once without ending anyone's session."
        )
    elif room.full:
        draft.evidence.append(
            f"Why no raise: the server has no free ordinary slot to give database {d.name}; "
            "end idle sessions of the role that holds most of them (see the role's finding "
            "or the first query), or shrink that application's pool."
        )
    return draft


def _idle_evidence(draft: Draft, snapshot: Snapshot, scope: Scope, t: Thresholds) -> None:
    """The idle sessions' ages, oldest first, that any claim about them rests on."""
    ages = idle_ages(snapshot, scope)
    if not ages:
        return
    shown = ", ".join(human_duration(a) for a in ages[:8])
    more = f" and {len(ages) - 8} more" if len(ages) > 8 else ""
    old = sum(1 for a in ages if a > t.idle_min_age_s)
    draft.evidence.append(
        f"Its idle sessions, oldest first: {shown}{more}; {old} idle for more than "
        f"{human_duration(t.idle_min_age_s)} (triage.idle_seconds)."
    )


def server_draft(
    snapshot: Snapshot, t: Thresholds, cluster: str | None, focus_role: str | None
) -> Draft | None:
    s = snapshot.settings
    room = snapshot.server_headroom()
    if room.total >= s.max_connections:
        code, severity = FindingCode.MAX_CONNECTIONS, Severity.CRITICAL
        title = f"The server is out of connection slots ({room.used}/{room.usable} usable)"
    elif room.full and room.reserved:
        code, severity = FindingCode.RESERVED_SLOTS, Severity.CRITICAL
        title = (
            f"Only reserved slots are left, so ordinary roles are refused "
            f"({room.used}/{room.usable} usable, {room.reserved} reserved)"
        )
    elif room.full:
        code, severity = FindingCode.MAX_CONNECTIONS, Severity.CRITICAL
        title = f"The server is out of connection slots ({room.used}/{room.usable} usable)"
    elif room.limited and room.share >= t.near_ratio:
        # Ordinary roles still connect: not yet the reserved-slots situation.
        code, severity = FindingCode.SERVER_NEAR_FULL, Severity.WARNING
        title = f"The server is near full ({room.used}/{room.usable} usable slots)"
    else:
        return None
    scope = Scope(role=focus_role)
    c = state_counts(snapshot.groups, scope)
    own = len(snapshot.own)
    evidence = [
        f"Server slots for ordinary roles: {room.figures()}"
        + (f" ({room.basis()})" if room.reserved or room.own else "")
        + ".",
        f"max_connections {s.max_connections} = {room.total} taken "
        f"({room.sessions} client backends, {snapshot.superuser_backends} of them superusers,"
        f" and {own} of pgconn's own) + {s.max_connections - room.total} open"
        if room.total <= s.max_connections
        else f"{room.total} client backends on max_connections {s.max_connections}.",
        f"Ordinary roles may use {s.ordinary_slots} = {s.max_connections} max_connections "
        f"- {s.superuser_reserved_connections} superuser_reserved_connections"
        + (
            f" - {s.reserved_connections} reserved_connections"
            if s.reserved_connections is not None
            else ""
        )
        + ".",
    ]
    if focus_role is not None:
        evidence.append(f"Role {focus_role} holds {c.total} of them.")
    evidence += describe_states(c, snapshot.monitoring_role)
    evidence += describe_holders(snapshot, scope, c.total)
    if not snapshot.monitoring_can_use_reserved and code is not FindingCode.SERVER_NEAR_FULL:
        evidence.append(
            f"Monitoring role {snapshot.monitoring_role} cannot use the reserved slots: once the "
            "ordinary ones are gone, pgconn cannot connect either."
        )
    return Draft(
        code=code,
        severity=severity,
        title=title,
        server=server_facts(snapshot, t, cluster=cluster, role=focus_role),
        evidence=evidence,
        current=room.used,
        limit=room.usable,
        pressure=room.sessions / max(room.usable or 0, 1) if room.over else room.share,
        cause=state_cause(c, idle_ages(snapshot, scope), t.idle_min_age_s),
        headroom=room,
    )
