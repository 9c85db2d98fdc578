"""triage(): signals + snapshot -> a ranked Report with evidence, playbooks and actions."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.advice import memory as ceiling
from bot.advice import pgbouncer_ini, pools, reclaim
from bot.errors import PlaybookError
from bot.names import is_configured_name
from bot.signals.model import Signal
from bot.triage.capacity import database_drafts, role_drafts, server_draft
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.facts import FACTS_BY_CODE, PoolerFacts, context, placeholders
from bot.triage.headline import headline
from bot.triage.idle import idle_drafts, idle_in_transaction_drafts
from bot.triage.model import Finding, Report, Severity
from bot.triage.pasted import apply_signals
from bot.triage.pooler import pooler_drafts, pooler_facts, pooler_server_fields
from bot.triage.sessions import Scope, state_counts
from bot.triage.thresholds import DEFAULT_THRESHOLDS, Thresholds

# Types only: explaining a paste does not load the live side's models.
if TYPE_CHECKING:
    from bot.diagnostics.model import Snapshot
    from bot.pgbouncer.model import PoolerSnapshot
    from bot.playbooks import PlaybookSet

# Among equally severe and equally full findings: the limit first, then what fills it.
_ORDER = [
    FindingCode.ROLE_LIMIT,
    FindingCode.DATABASE_LIMIT,
    FindingCode.MAX_CONNECTIONS,
    FindingCode.RESERVED_SLOTS,
    FindingCode.SERVER_NEAR_FULL,
    FindingCode.WALSENDER_LIMIT,
    FindingCode.POOLER_CLIENT_LIMIT,
    FindingCode.POOLER_SERVER_LOGIN,
    FindingCode.POOLER_SERVER_LIMIT,
    FindingCode.POOLER_CLIENTS_WAITING,
    FindingCode.POOLER_WAIT_TIMEOUT,
    FindingCode.POOLER_POOL_FULL,
    FindingCode.APP_POOL_TIMEOUT,
    FindingCode.SERVER_NOT_READY,
    FindingCode.IDLE_SESSIONS,
    FindingCode.IDLE_IN_TRANSACTION,
    FindingCode.POOLER_SESSION_STATE,
    FindingCode.NOT_CONFIRMED,
]
CAUSE_CODES = (FindingCode.IDLE_SESSIONS, FindingCode.IDLE_IN_TRANSACTION)
SERVER_CODES = (
    FindingCode.MAX_CONNECTIONS,
    FindingCode.RESERVED_SLOTS,
    FindingCode.SERVER_NEAR_FULL,
)
# How many people a finding's limit refuses: the server refuses everyone, a database everyone
# connecting to it, a role one application; stuck sessions are a cause, not a refusal. Among
# equally severe findings the widest comes first, so it heads the report.
_BLAST = {
    FindingCode.MAX_CONNECTIONS: 0,
    FindingCode.RESERVED_SLOTS: 0,
    FindingCode.SERVER_NEAR_FULL: 0,
    FindingCode.DATABASE_LIMIT: 1,
    FindingCode.ROLE_LIMIT: 2,
    FindingCode.IDLE_IN_TRANSACTION: 4,
    FindingCode.IDLE_SESSIONS: 4,
    FindingCode.APP_POOL_TIMEOUT: 5,
    FindingCode.NOT_CONFIRMED: 6,
}


def triage(
    signals: Sequence[Signal],
    snapshot: Snapshot | None,
    *,
    cluster: str | None,
    playbooks: PlaybookSet,
    focus_role: str | None = None,
    notes: Sequence[str] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    pooler: PoolerSnapshot | None = None,
    memory: int | None = None,
) -> Report:
    """Rank what is full and why. `focus_role` keeps only that role's findings and evidence
    (server and database findings stay, narrowed to it); `notes` are added to the report's.
    `pooler`: what PgBouncer's console showed, when the cluster has one configured."""
    cluster = cluster or (snapshot.cluster if snapshot and not snapshot.pasted else None)
    kept = [s for s in signals if focus_role is None or s.role in (None, focus_role)]
    drafts = _live_drafts(snapshot, thresholds, cluster, focus_role) if snapshot else []
    if pooler is not None:
        drafts += pooler_drafts(pooler, snapshot, kept, thresholds, cluster, focus_role)
    apply_signals(drafts, kept, snapshot, thresholds, cluster)
    if snapshot is not None and snapshot.pasted:
        for d in drafts:
            d.actions.clear()  # pids and limits from a paste are not to be acted on
    _link_causes(drafts)
    pools.advise(drafts, kept, snapshot)
    reclaim.advise(drafts, snapshot, thresholds)
    pgbouncer_ini.advise(drafts, snapshot, pooler)
    where = f"clusters.{cluster}.memory or --memory" if cluster else "--memory"
    ceiling.cap(drafts, snapshot, memory, where)
    _pooler_facts(drafts, pooler, snapshot)
    drafts.sort(key=_rank)
    report_notes = list(notes)
    findings = tuple(_finding(d, playbooks, report_notes) for d in drafts)
    return Report(
        cluster=cluster,
        headline=headline(drafts, snapshot, cluster, focus_role, bool(kept)),
        findings=findings,
        signals=tuple(signals),
        snapshot=snapshot,
        notes=tuple(report_notes + _notes(snapshot, cluster, focus_role, signals, kept)),
        pooler=pooler,
    )


def _pooler_facts(
    drafts: list[Draft], pooler: PoolerSnapshot | None, snapshot: Snapshot | None
) -> None:
    """Every finding learns the pooler's numbers (pool sizes against its role's limits), and a
    pooler finding made from the paste gets the pooler-wide facts, or placeholders."""
    for d in drafts:
        if FACTS_BY_CODE[d.code] is PoolerFacts and not isinstance(d.extra, PoolerFacts):
            d.extra = pooler_facts(pooler) if pooler else placeholders(PoolerFacts)
        if pooler is not None:
            d.server = replace(d.server, **pooler_server_fields(pooler, snapshot, d.role))


def _live_drafts(
    snapshot: Snapshot, t: Thresholds, cluster: str | None, focus_role: str | None
) -> list[Draft]:
    limits = role_drafts(snapshot, t, cluster, focus_role)
    limits += database_drafts(snapshot, t, cluster, focus_role)
    server = server_draft(snapshot, t, cluster, focus_role)
    if server is not None:
        limits.append(server)

    def pressure(role: str) -> tuple[bool, float]:
        """Whether a limit that `role`'s sessions count against is full, and the fullest."""
        holding = [
            d
            for d in limits
            if d.role == role
            or d.code in SERVER_CODES
            or (
                d.code is FindingCode.DATABASE_LIMIT
                and state_counts(snapshot.groups, Scope(role=role, database=d.database)).total
            )
        ]
        full = any(d.severity is Severity.CRITICAL for d in holding)
        return full, max((d.pressure for d in holding), default=0.0)

    causes = idle_drafts(snapshot, t, cluster, focus_role, pressure)
    causes += idle_in_transaction_drafts(snapshot, t, cluster, focus_role, pressure)
    return limits + causes


def _link_causes(drafts: list[Draft]) -> None:
    """Give each limit the cause a headline should name: the largest group of stuck sessions
    inside it (over the busy-sessions cause the limit may already carry)."""
    causes = [d for d in drafts if d.code in CAUSE_CODES and d.stuck is not None]
    for d in drafts:
        if d.code in CAUSE_CODES:
            continue
        inside = [c for c in causes if _within(c, d)]
        if inside:
            d.cause = max(inside, key=lambda c: c.stuck.count if c.stuck else 0).cause


def _within(cause: Draft, limit: Draft) -> bool:
    if limit.code is FindingCode.ROLE_LIMIT:
        return cause.role == limit.role
    if limit.code is FindingCode.DATABASE_LIMIT:
        return cause.stuck is not None and any(
            s.database == limit.database for s in cause.stuck.sessions
        )
    return limit.code in SERVER_CODES


def _rank(d: Draft) -> tuple[int, int, bool, float, int, str, str]:
    """Most severe first; then the widest blast radius; then what the paste showed (still
    live); then the fullest."""
    return (
        -d.severity,
        _BLAST.get(d.code, 3),
        d.server.seen == 0,
        -d.pressure,
        _ORDER.index(d.code),
        d.role or "",
        d.database or "",
    )


def _finding(d: Draft, playbooks: PlaybookSet, notes: list[str]) -> Finding:
    section = None
    playbook = playbooks.for_code(d.code)
    if playbook is not None:
        try:
            section = playbook.render(context(d.server, d.extra))
        except PlaybookError as exc:
            notes.append(f"{exc} The evidence above still holds; report this playbook bug.")
    evidence = tuple(d.evidence)
    if section is not None:
        section = replace(section, prevent=(*d.advice, *section.prevent))
    else:
        evidence += tuple(d.advice)  # no playbook to carry it: said with the evidence
    return Finding(
        code=d.code.value,
        severity=d.severity,
        title=d.title,
        evidence=evidence,
        playbook=section,
        actions=tuple(d.actions),
        role=d.role,
        database=d.database,
        current=d.current,
        limit=d.limit,
        headroom=d.headroom,
    )


def _notes(
    snapshot: Snapshot | None,
    cluster: str | None,
    focus_role: str | None,
    signals: Sequence[Signal],
    kept: Sequence[Signal],
) -> list[str]:
    notes = []
    if snapshot is None:
        command = (
            f"`pgconn diagnose {shlex.quote(cluster)}`"
            if cluster is not None and is_configured_name(cluster)
            else "`pgconn diagnose CLUSTER --config FILE` (or `--dsn DSN`)"
        )
        notes.append(
            f"No live data: statements that need live values are withheld. {command} fills them in."
        )
    else:
        notes.extend(snapshot.blind_spots)
    if focus_role is not None:
        dropped = len(signals) - len(kept)
        notes.append(
            f"Focused on role {focus_role}: other roles' findings are left out"
            + (f", and {dropped} signal(s) about other roles." if dropped else ".")
        )
    return notes
