"""Sessions that hold slots doing nothing: long idle (often a leak) and idle in transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from bot.diagnostics.model import Snapshot
from bot.triage import actions
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.facts import Placeholder, SessionFacts, server_facts
from bot.triage.model import Severity
from bot.triage.sessions import (
    IDLE,
    IDLE_IN_TRANSACTION,
    Scope,
    Stuck,
    describe_source,
    state_counts,
    stuck,
)
from bot.triage.thresholds import Thresholds
from bot.triage.units import human_duration, setting_duration_ms

# For a role: is a limit its sessions count against full now, and how close is the fullest (1.0).
Pressure: TypeAlias = Callable[[str], tuple[bool, float]]


def _session_facts(found: Stuck, state: str) -> SessionFacts:
    main = found.main_source()
    return SessionFacts(
        state=state,
        sessions=found.count,
        sessions_exact=found.exact,
        oldest_age_s=int(found.oldest_age_s),
        oldest_age=human_duration(found.oldest_age_s),
        application=main[0] if main and main[0] else Placeholder("application"),
        client=main[1] if main and main[1] else Placeholder("client"),
    )


def _roles(sessions_roles: list[str | None], focus_role: str | None) -> list[str]:
    return sorted({r for r in sessions_roles if r is not None and focus_role in (None, r)})


def idle_drafts(
    snapshot: Snapshot,
    t: Thresholds,
    cluster: str | None,
    focus_role: str | None,
    pressure: Pressure,
) -> list[Draft]:
    drafts = []
    for role in _roles([s.role for s in snapshot.oldest_idle], focus_role):
        found = stuck(
            snapshot.oldest_idle, snapshot.groups, (IDLE,), t.idle_min_age_s, Scope(role=role)
        )
        full, level = pressure(role)
        # A few idle sessions matter only where they hold slots that are needed now.
        if found.count < (1 if full else t.idle_min_sessions):
            continue
        drafts.append(_idle_draft(snapshot, t, cluster, role, found, full, level))
    return drafts


def _idle_draft(
    snapshot: Snapshot,
    t: Thresholds,
    cluster: str | None,
    role: str,
    found: Stuck,
    full: bool,
    level: float,
) -> Draft:
    age = human_duration(t.idle_min_age_s)
    counts = state_counts(snapshot.groups, Scope(role=role))
    main = found.main_source()
    leak = bool(
        main and found.count >= t.idle_min_sessions and main[2] >= found.count * t.leak_share
    )
    oldest = human_duration(found.oldest_age_s)
    if found.exact:
        cause = f"{found.count} sessions idle for more than {age} (oldest {oldest})"
        title = f"{found.count} sessions of role {role} idle for more than {age}"
        evidence = [
            f"{found.count} of role {role}'s {counts.total} sessions have been idle for more "
            f"than {age} (oldest {oldest})."
        ]
    else:
        cause = (
            f"{counts.idle} idle sessions, at least {found.count} for more than {age} "
            f"(oldest {oldest})"
        )
        title = (
            f"{counts.idle} idle sessions of role {role}, at least {found.count} "
            f"for more than {age}"
        )
        evidence = [
            f"Role {role} has {counts.idle} idle sessions of {counts.total}; at least "
            f"{found.count} of them for more than {age} (oldest {oldest}). pgconn lists only "
            f"the {len(snapshot.oldest_idle)} oldest idle sessions, so there may be more."
        ]
    source = ""
    if main and main[2] == found.count:
        source = f", {describe_source(main[0], main[1])}"
        evidence.append(f"All {found.count} come from {source[2:]}.")
    elif main:
        evidence.append(
            f"{main[2]} of the {found.count} come from {describe_source(main[0], main[1])}."
        )
    if leak:
        evidence.append(
            "Sessions that one client opens and never uses again are the mark of a connection "
            "leak (connections not returned to the pool, or a pool larger than the load)."
        )
    timeout = snapshot.settings.idle_session_timeout_ms
    if timeout is None:
        evidence.append("idle_session_timeout does not exist before PostgreSQL 14.")
    else:
        evidence.append(f"idle_session_timeout is {setting_duration_ms(timeout)}.")
    leak_mark = " — a probable leak" if leak else ""
    return Draft(
        code=FindingCode.IDLE_SESSIONS,
        severity=Severity.CRITICAL if full else Severity.WARNING,
        title=title + leak_mark,
        server=server_facts(snapshot, t, cluster=cluster, role=role),
        extra=_session_facts(found, IDLE),
        evidence=evidence,
        actions=[actions.terminate_stuck(role, IDLE, t.idle_min_age_s, found)],
        role=role,
        pressure=level,
        cause=cause + source + leak_mark,
        stuck=found,
    )


def idle_in_transaction_drafts(
    snapshot: Snapshot,
    t: Thresholds,
    cluster: str | None,
    focus_role: str | None,
    pressure: Pressure,
) -> list[Draft]:
    drafts = []
    listed = snapshot.oldest_idle_in_transaction
    states = (IDLE_IN_TRANSACTION, "idle in transaction (aborted)")
    for role in _roles([s.role for s in listed], focus_role):
        found = stuck(listed, snapshot.groups, states, t.idle_tx_min_age_s, Scope(role=role))
        if not found.count:
            continue
        full, level = pressure(role)
        drafts.append(_idle_tx_draft(snapshot, t, cluster, role, found, full, level))
    return drafts


def _idle_tx_draft(
    snapshot: Snapshot,
    t: Thresholds,
    cluster: str | None,
    role: str,
    found: Stuck,
    full: bool,
    level: float,
) -> Draft:
    oldest = max(found.sessions, key=lambda s: s.state_age_s or 0.0)
    age = human_duration(found.oldest_age_s)
    evidence = [
        f"{found.count_text} session(s) of role {role} idle in transaction for more than "
        f"{human_duration(t.idle_tx_min_age_s)}; the oldest, pid {oldest.pid}, for {age}"
        + (
            f" (transaction open {human_duration(oldest.xact_age_s)})"
            if oldest.xact_age_s is not None
            else ""
        )
        + f", {describe_source(oldest.application, oldest.client)}."
    ]
    if oldest.query:
        evidence.append(f"Its last statement: {' '.join(oldest.query.split())[:120]}")
    setting = snapshot.settings.idle_in_transaction_session_timeout_ms
    draft_actions = [actions.terminate_stuck(role, IDLE_IN_TRANSACTION, t.idle_tx_min_age_s, found)]
    if setting == 0:
        evidence.append(
            "idle_in_transaction_session_timeout is 0 (off): nothing ends these transactions. "
            "Meanwhile they hold their slots and their locks, and keep VACUUM from cleaning up."
        )
        draft_actions.append(actions.set_role_idle_tx_timeout(role, t.idle_tx_timeout))
    else:
        evidence.append(
            f"idle_in_transaction_session_timeout is {setting_duration_ms(setting)} on the "
            "server; a longer per-role or per-database setting may be overriding it."
        )
    return Draft(
        code=FindingCode.IDLE_IN_TRANSACTION,
        severity=Severity.CRITICAL if full else Severity.WARNING,
        title=f"{found.count_text} session(s) of role {role} idle in transaction, oldest for {age}",
        server=server_facts(snapshot, t, cluster=cluster, role=role),
        extra=_session_facts(found, IDLE_IN_TRANSACTION),
        evidence=evidence,
        actions=draft_actions,
        role=role,
        pressure=level,
        cause=f"{found.count_text} idle in transaction (oldest {age})",
        stuck=found,
    )
