"""Findings from what the paste showed, checked against the live snapshot when there is one.

A signal the snapshot confirms adds its evidence to the live finding. One the snapshot
contradicts (the role is at 3/20 now) becomes `not_confirmed`, with the current numbers. Without
a snapshot, the signal alone makes the finding, with explicit placeholders for what is unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.diagnostics.model import Snapshot
from bot.signals.model import Signal, SignalKind
from bot.triage.capacity import describe_states
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.facts import (
    DatabaseFacts,
    NotConfirmedFacts,
    Placeholder,
    RoleFacts,
    ServerFacts,
    placeholders,
    server_facts,
)
from bot.triage.model import Severity
from bot.triage.sessions import Scope, state_counts
from bot.triage.thresholds import Thresholds

_SERVER_CODES = (FindingCode.MAX_CONNECTIONS, FindingCode.RESERVED_SLOTS)
_LIMIT_CODES = (*_SERVER_CODES, FindingCode.DATABASE_LIMIT, FindingCode.ROLE_LIMIT)
_SERVER_SIGNALS = (SignalKind.MAX_CONNECTIONS, SignalKind.RESERVED_SLOTS)
# Live PgBouncer findings a pasted query_wait_timeout (or failing login) is explained by.
_QUEUE_CODES = (
    FindingCode.POOLER_SERVER_LOGIN,
    FindingCode.POOLER_SERVER_LIMIT,
    FindingCode.POOLER_CLIENTS_WAITING,
)

_OUTSIDE_TITLES = {
    SignalKind.POOLER_CLIENT_LIMIT: "{pooler} refused new clients",
    SignalKind.POOLER_WAIT_TIMEOUT: "Clients timed out waiting in {pooler} for a server",
    SignalKind.APP_POOL_TIMEOUT: "The application's own connection pool ran dry",
    SignalKind.WALSENDER_LIMIT: "Replication connections exceeded max_wal_senders",
}


# The source of signals read from pgconn's own refused login (not from the paste).
LIVE_REFUSAL_SOURCE = "pgconn-connect"


@dataclass(frozen=True, slots=True)
class Seen:
    """All signals of one (kind, role, database), folded: how often the paste shows it, the
    earliest line, and whether pgconn's own login was refused the same way (never added to
    the paste's count)."""

    first: Signal
    count: int
    refused_pgconn: bool = False

    @property
    def where(self) -> str:
        """`3× in the paste`, or what showed it when the paste did not."""
        if self.count:
            return f"{self.count}× in the paste"
        return "pgconn's own login was refused"

    @property
    def evidence(self) -> str:
        s = self.first
        excerpt = " ".join(s.excerpt.split())
        if len(excerpt) > 160:
            excerpt = excerpt[:159] + "…"
        shown = f": {excerpt}" if excerpt else ""
        code = f", SQLSTATE {s.sqlstate}" if s.sqlstate else ""
        if not self.count:
            return f"pgconn's own connection was refused with this error just now{code}{shown}"
        times = "once" if self.count == 1 else f"{self.count}×"
        also = (
            " pgconn's own connection was refused the same way just now."
            if self.refused_pgconn
            else ""
        )
        return f"The paste shows this {times} (line {s.first_line}, {s.source}{code}){shown}{also}"


def fold(signals: Sequence[Signal]) -> list[Seen]:
    first: dict[tuple[SignalKind, str | None, str | None], Signal] = {}
    counts: dict[tuple[SignalKind, str | None, str | None], int] = {}
    refused: set[tuple[SignalKind, str | None, str | None]] = set()
    for s in signals:
        key = (s.kind, s.role, s.database)
        own = s.source == LIVE_REFUSAL_SOURCE
        if own:
            refused.add(key)
        pasted_first = key in first and first[key].source != LIVE_REFUSAL_SOURCE
        if key not in first or (
            not own and (not pasted_first or s.first_line < first[key].first_line)
        ):
            first[key] = s
        counts[key] = counts.get(key, 0) + (0 if own else s.count)
    return [Seen(first[k], counts[k], k in refused) for k in first]


def _attach(draft: Draft, seen: Seen) -> None:
    draft.evidence.append(seen.evidence)
    draft.server = replace(
        draft.server,
        seen=draft.server.seen + seen.count,
        detail=seen.first.detail or draft.server.detail,
    )


def apply_signals(
    drafts: list[Draft],
    signals: Sequence[Signal],
    snapshot: Snapshot | None,
    t: Thresholds,
    cluster: str | None,
) -> None:
    """Add the signals' evidence to `drafts`, or new drafts for them."""
    # Limits refusing connections right now: a pool timeout beside one is its consequence.
    refusing = [
        d
        for d in drafts
        if d.code in _LIMIT_CODES and d.severity is Severity.CRITICAL and d.headroom is not None
    ]
    for seen in fold(signals):
        match = _matching(drafts, seen)
        if match is not None:
            _attach(match, seen)
            continue
        draft = (
            _live_draft(seen, snapshot, t, cluster, refusing)
            if snapshot is not None
            else _paste_only_draft(seen, t, cluster)
        )
        draft.evidence.append(seen.evidence)
        drafts.append(draft)


def _matching(drafts: list[Draft], seen: Seen) -> Draft | None:
    """The live finding a signal confirms, if any."""
    s = seen.first
    if s.kind is SignalKind.POOLER_CLIENT_LIMIT:
        # Only max_client_conn is read live; the 1.24+ per-database/user client limits are not.
        if s.detail not in (None, "max_client_conn"):
            return None
        return next((d for d in drafts if d.code is FindingCode.POOLER_CLIENT_LIMIT), None)
    if s.kind is SignalKind.POOLER_WAIT_TIMEOUT:
        codes = (
            (FindingCode.POOLER_SERVER_LOGIN,) if s.detail == "server_login_retry" else _QUEUE_CODES
        )
        return next((d for c in codes for d in drafts if d.code is c), None)
    for d in drafts:
        if s.kind is SignalKind.ROLE_LIMIT:
            hit = d.code is FindingCode.ROLE_LIMIT and s.role in (None, d.role)
        elif s.kind is SignalKind.DATABASE_LIMIT:
            hit = d.code is FindingCode.DATABASE_LIMIT and s.database in (None, d.database)
        else:
            hit = s.kind in _SERVER_SIGNALS and d.code in _SERVER_CODES
        if hit:
            return d
    return None


def _paste_only_draft(seen: Seen, t: Thresholds, cluster: str | None) -> Draft:
    s = seen.first
    server = server_facts(
        None,
        t,
        cluster=cluster,
        role=s.role,
        database=s.database,
        seen=seen.count,
        detail=s.detail,
    )
    role = s.role or "a role"
    database = s.database or "a database"
    no_live = "No live data: pgconn could not check the current numbers."
    if s.kind is SignalKind.ROLE_LIMIT:
        return Draft(
            code=FindingCode.ROLE_LIMIT,
            severity=Severity.CRITICAL,
            title=f"Role {role} hit its connection limit",
            headline=f"Role {role} hit its connection limit ({seen.where})",
            server=server,
            extra=placeholders(RoleFacts),
            evidence=[no_live],
            role=s.role,
            pressure=1.0,
        )
    if s.kind is SignalKind.DATABASE_LIMIT:
        return Draft(
            code=FindingCode.DATABASE_LIMIT,
            severity=Severity.CRITICAL,
            title=f"Database {database} hit its connection limit",
            headline=f"Database {database} hit its connection limit ({seen.where})",
            server=server,
            extra=placeholders(DatabaseFacts),
            evidence=[no_live],
            database=s.database,
            pressure=1.0,
        )
    if s.kind is SignalKind.MAX_CONNECTIONS:
        title = "The server ran out of connection slots (max_connections)"
    elif s.kind is SignalKind.RESERVED_SLOTS:
        title = "Only reserved slots were left: ordinary roles were refused"
    elif s.kind is SignalKind.SERVER_NOT_READY:
        return _not_ready(seen, server, None)
    else:
        title = _outside_title(s)
    return Draft(
        code=FindingCode(s.kind.value),
        severity=Severity.CRITICAL,
        title=title,
        headline=f"{title} ({seen.where})",
        server=server,
        evidence=[no_live],
        role=s.role,
        database=s.database,
        pressure=1.0,
    )


# How people write the poolers that `Signal.pooler` names.
_POOLER_NAMES = {
    "pgbouncer": "PgBouncer",
    "supavisor": "Supavisor",
    "pgpool": "Pgpool-II",
    "odyssey": "Odyssey",
    "pgcat": "pgcat",
    "pgdog": "PgDog",
    "rds_proxy": "RDS Proxy",
    "neon": "Neon's proxy",
}


def _outside_title(s: Signal) -> str:
    """`Supavisor refused new clients (…)`: the pooler that refused, by its own name."""
    pooler = _POOLER_NAMES.get(s.pooler or "pgbouncer", s.pooler or "The pooler")
    title = _OUTSIDE_TITLES[s.kind].format(pooler=pooler)
    return title + (f" ({s.detail})" if s.detail else "")


def _not_ready(seen: Seen, server: ServerFacts, snapshot: Snapshot | None) -> Draft:
    state = seen.first.detail or "starting up, shutting down or in recovery"
    evidence = [
        f"SQLSTATE 57P03: the server was {state}. That is not a capacity problem: more "
        "connections or a higher max_connections would not help."
    ]
    if snapshot is not None:
        evidence.append(
            f"pgconn connected at {snapshot.taken_at:%Y-%m-%d %H:%M:%S %Z}: the server accepts "
            "connections now."
        )
    title = f"The server was not accepting connections ({state}) — not a capacity problem"
    return Draft(
        code=FindingCode.SERVER_NOT_READY,
        severity=Severity.CRITICAL if snapshot is None else Severity.INFO,
        title=title,
        server=server,
        evidence=evidence,
        pressure=0.0,
    )


def _live_draft(
    seen: Seen,
    snapshot: Snapshot,
    t: Thresholds,
    cluster: str | None,
    refusing: Sequence[Draft] = (),
) -> Draft:
    """A signal that no live finding confirms: outside PostgreSQL, not capacity, or passed."""
    s = seen.first
    server = server_facts(
        snapshot,
        t,
        cluster=cluster,
        role=s.role,
        database=s.database,
        seen=seen.count,
        detail=s.detail,
    )
    if s.kind is SignalKind.SERVER_NOT_READY:
        return _not_ready(seen, server, snapshot)
    if s.kind in _OUTSIDE_TITLES:
        return _outside_draft(seen, server, snapshot, refusing)
    return _not_confirmed(seen, server, snapshot)


def _headroom(snapshot: Snapshot, role: str | None) -> tuple[bool, list[str]]:
    """Whether PostgreSQL itself had room for the client that was refused, and the numbers."""
    room = snapshot.server_headroom()
    lines = [f"Server slots for ordinary roles: {room.figures()}."]
    roomy = not room.full
    r = snapshot.role(role) if role is not None else None
    if r is not None and r.conn_limit >= 0 and not r.superuser:
        rr = snapshot.role_headroom(r.name)
        lines.append(f"Role {r.name}, CONNECTION LIMIT {r.conn_limit}: {rr.figures()}.")
        roomy = roomy and not rr.full
    return roomy, lines


def _outside_draft(
    seen: Seen, server: ServerFacts, snapshot: Snapshot, refusing: Sequence[Draft] = ()
) -> Draft:
    s = seen.first
    title = _outside_title(s)
    if s.kind is SignalKind.WALSENDER_LIMIT:
        return Draft(
            code=FindingCode.WALSENDER_LIMIT,
            severity=Severity.CRITICAL,
            title=title,
            server=server,
            evidence=[
                f"max_wal_senders is {snapshot.settings.max_wal_senders}. Replication "
                "connections have their own slots; pgconn does not count them (the SQL below "
                "lists them)."
            ],
            pressure=1.0,
        )
    roomy, lines = _headroom(snapshot, s.role)
    where = "the pooler" if s.kind is not SignalKind.APP_POOL_TIMEOUT else "the application"
    if refusing:
        names = ", ".join(d.title for d in refusing[:2])
        lines.append(
            f"PostgreSQL is refusing new connections right now ({names}): clients waiting in "
            f"{where} time out because of it. Relieve that limit first; this timeout is its "
            "consequence."
        )
        return Draft(
            code=FindingCode(s.kind.value),
            severity=Severity.WARNING,
            title=f"{title} — a consequence of the refusals above",
            server=server,
            evidence=lines,
            role=s.role,
            database=s.database,
            pressure=0.0,
        )
    if roomy:
        lines.append(
            f"So the limit that was hit is in {where}, not in PostgreSQL: the database is fine "
            "right now."
        )
        headline = f"{title} — PostgreSQL itself has headroom"
    else:
        lines.append("PostgreSQL is short of slots too: see the findings on its limits.")
        headline = title
    return Draft(
        code=FindingCode(s.kind.value),
        severity=Severity.CRITICAL,
        title=title,
        headline=headline,
        server=server,
        evidence=lines,
        role=s.role,
        database=s.database,
        pressure=1.0,
    )


def _not_confirmed(seen: Seen, server: ServerFacts, snapshot: Snapshot) -> Draft:
    s = seen.first
    current: int | None = None
    limit: int | None = None
    state: str | None = None  # what the entity looks like now; None: the paste names none
    missing = False
    if s.kind is SignalKind.ROLE_LIMIT and s.role is not None:
        scope = f"role {s.role}"
        r = snapshot.role(s.role)
        room = snapshot.role_headroom(s.role)
        current = room.used
        if r is None and not snapshot.blind_spots:
            missing = True
            state = f"does not exist on {snapshot.cluster}"
        elif r is not None and r.superuser:
            state = f"is a superuser (CONNECTION LIMIT does not apply) with {current} connection(s)"
        elif r is not None and r.conn_limit >= 0:
            limit = room.usable
        counts = state_counts(snapshot.groups, Scope(role=s.role))
    elif s.kind is SignalKind.DATABASE_LIMIT and s.database is not None:
        scope = f"database {s.database}"
        d = snapshot.database(s.database)
        room = snapshot.database_headroom(s.database)
        current = room.used
        limit = room.usable
        if d is None:
            missing = True
            state = f"does not exist on {snapshot.cluster}"
        counts = state_counts(snapshot.groups, Scope(database=s.database))
    elif s.kind in (SignalKind.ROLE_LIMIT, SignalKind.DATABASE_LIMIT):
        scope = "a " + ("role" if s.kind is SignalKind.ROLE_LIMIT else "database")
        counts = state_counts(())
    else:
        scope = "the server"
        room = snapshot.server_headroom()
        current = room.used
        limit = room.usable
        counts = state_counts(snapshot.groups)
    evidence = []
    if current is None:
        now = "no role or database is near its CONNECTION LIMIT now"
        title = f"Not happening now: {now}"
    else:
        if state is None:
            state = (
                f"is at {current}/{limit}"
                if limit is not None
                else f"has no CONNECTION LIMIT and holds {current} connection(s)"
            )
        now = f"it {state} now"
        title = f"Not happening now: {scope} {state}"
        if limit is None and state.startswith("has no"):
            evidence.append("Its limit may have been lifted since, or it was renamed or dropped.")
    if missing:
        evidence.append(
            f"There is no {scope} on cluster {snapshot.cluster}: was the error pasted from "
            "another cluster? Run pgconn against the cluster the application connects to."
        )
        return Draft(
            code=FindingCode.NOT_CONFIRMED,
            severity=Severity.WARNING,
            title=f"Not on this cluster: {scope} {state}",
            headline=f"The paste names {scope}, which does not exist on {snapshot.cluster} — "
            "wrong cluster?",
            server=server,
            extra=NotConfirmedFacts(
                signal_kind=s.kind.value,
                scope=scope,
                now_current=Placeholder("current"),
                now_limit=Placeholder("no limit"),
            ),
            evidence=[
                f"The paste shows {scope} out of connections ({s.kind.value}).",
                *evidence,
            ],
            role=s.role,
            database=s.database,
        )
    evidence[:0] = [
        f"The paste shows {scope} out of connections ({s.kind.value}), but {now}: the incident "
        "may have passed, or it comes in bursts.",
        *describe_states(counts, snapshot.monitoring_role),
    ]
    return Draft(
        code=FindingCode.NOT_CONFIRMED,
        severity=Severity.WARNING,
        title=title,
        headline=f"The paste shows {scope} out of connections, but {now} — the incident may "
        "have passed",
        server=server,
        extra=NotConfirmedFacts(
            signal_kind=s.kind.value,
            scope=scope,
            now_current=current if current is not None else Placeholder("current"),
            now_limit=limit if limit is not None else Placeholder("no limit"),
        ),
        evidence=evidence,
        role=s.role,
        database=s.database,
        current=current,
        limit=limit,
        pressure=current / limit if current is not None and limit else 0.0,
    )
