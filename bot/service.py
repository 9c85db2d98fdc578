"""One entry point for every adapter (CLI, Slack): text and/or cluster in, Report out.

It joins the pure core (signals, triage) with the impure steps (a live snapshot of PostgreSQL,
and of PgBouncer's console when the cluster has one) and turns every expected failure of those
steps into a note on the report: an on-call engineer always gets the playbook, with or without
live numbers.

A long-running process (the bot) passes `keepers`: diagnostics then run on connections kept
open between uses, so pgconn already holds its slot when a server fills up. Without it (the
one-shot CLI) each diagnosis opens and closes its own connections.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from psycopg.conninfo import conninfo_to_dict

from bot import signals
from bot.config import ClusterConfig
from bot.diagnostics import diagnose
from bot.diagnostics.keeper import Keepers
from bot.diagnostics.model import Snapshot
from bot.diagnostics.snapshot import take_snapshot
from bot.errors import CannotConnectError, DeadlineError, DiagnosticsError, PoolerError
from bot.observability import metrics
from bot.pasted import Pasted
from bot.pgbouncer import PoolerSnapshot, read_pooler
from bot.playbooks import PlaybookSet
from bot.redact import redact_for_dsn
from bot.signals.model import Signal, SignalKind
from bot.slots import waiting
from bot.triage import DEFAULT_THRESHOLDS, Thresholds, triage
from bot.triage.access import assess_unconnected, how_pgconn_got_in, reserved_path
from bot.triage.model import Report
from bot.triage.pasted import LIVE_REFUSAL_SOURCE
from bot.triage.unreachable import classify

_SERVER_REFUSALS = (SignalKind.MAX_CONNECTIONS, SignalKind.RESERVED_SLOTS)


@dataclass(frozen=True)
class LiveResult:
    """A snapshot, or why there is none (and what the refusal itself revealed); the pooler's
    reading when one is configured and answered."""

    snapshot: Snapshot | None
    notes: tuple[str, ...] = ()
    refusal_signals: tuple[Signal, ...] = ()
    pooler: PoolerSnapshot | None = None


def take_live(
    cluster: ClusterConfig,
    secrets: Sequence[str] = (),
    *,
    keepers: Keepers | None = None,
    found: Sequence[Signal] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> LiveResult:
    """Read PostgreSQL, then PgBouncer if configured. Never raises for an unreachable target.
    `found`: the pasted signals, which say whether pgconn's reserved path matters now."""
    # Waiting on the servers takes no worker slot: a frozen cluster holds no one else up.
    with waiting():
        snapshot, notes, refusals = _postgres(cluster, secrets, keepers, found, thresholds)
        pooler, pooler_notes = _pooler(cluster, secrets)
    return LiveResult(snapshot, tuple(notes + pooler_notes), tuple(refusals), pooler)


def _postgres(
    cluster: ClusterConfig,
    secrets: Sequence[str],
    keepers: Keepers | None,
    found: Sequence[Signal],
    t: Thresholds,
) -> tuple[Snapshot | None, list[str], list[Signal]]:
    pooled = bool(cluster.pgbouncer_dsn)
    keeper = keepers.postgres(cluster) if keepers is not None else None
    try:
        if keeper is None:
            snap = diagnose(cluster.dsn, cluster.name, secrets=secrets, pooled=pooled)
            kept, opened_at = False, None
        else:
            used = keeper.use(lambda conn: take_snapshot(conn, cluster.name, pooled=pooled))
            snap, kept, opened_at = used.value, used.kept, used.opened_at
            idle_ms = snap.settings.idle_session_timeout_ms
            keeper.expect_idle_limit(idle_ms / 1000 if idle_ms else None)
    except CannotConnectError as exc:
        version = keeper.server_version if keeper is not None else None
        return None, [_refused_note(cluster, exc, version, keepers is not None)], _refusals(exc)
    except DeadlineError as exc:
        return None, [_frozen_note(cluster, exc)], []
    except DiagnosticsError as exc:
        return None, [f"live diagnostics of {cluster.name} failed: {exc}"], []
    return snap, _access_notes(snap, kept, opened_at, found, t), []


def _frozen_note(cluster: ClusterConfig, exc: DeadlineError) -> str:
    return (
        f"{cluster.name} did not answer within {exc.seconds:g} s: pgconn cancelled its query and "
        "gave up on the connection. A server that accepts connections but answers nothing is "
        "usually stopped or stalled (a frozen process, a storage or network hang), not full; "
        "check the host and its storage first. The advice below comes from the pasted text "
        "alone; pgconn will not ask this server again for a few seconds."
    )


def _refusals(exc: CannotConnectError) -> list[Signal]:
    # The refusal is often the incident itself ("sorry, too many clients already").
    return [_as_live_refusal(s) for s in signals.scan(str(exc))]


def _monitoring_role(dsn: str) -> str:
    """The role a DSN logs in as: its `user`, else libpq's defaults (PGUSER, the OS user)."""
    user = conninfo_to_dict(dsn).get("user")
    return str(user) if user else os.environ.get("PGUSER") or getpass.getuser()


def _refused_note(
    cluster: ClusterConfig, exc: CannotConnectError, version: int | None, kept: bool
) -> str:
    role = _monitoring_role(cluster.dsn)
    cause = classify(str(exc), exc.sqlstate, cluster.name)
    if not cause.capacity:
        # Not a full server: the reserved slots and the kept connection are beside the point.
        return (
            f"pgconn could not connect to {cluster.name} as role {role}: {exc}. {cause.note()} "
            "The advice below comes from the pasted text alone."
        )
    path = assess_unconnected(role, version, _refusals(exc))
    keeping = (
        " pgconn keeps a connection open only while it runs as a bot, and it had none to "
        "this cluster when the refusal came."
        if kept
        else " Run pgconn as a bot: it keeps a diagnostics connection open, so it already "
        "holds its slot when the server fills up."
    )
    return (
        f"pgconn could not connect to {cluster.name} as role {role}: {exc}. The advice below "
        "comes from the pasted text alone. " + path.note() + keeping
    )


def _access_notes(
    snap: Snapshot,
    kept: bool,
    opened_at: datetime | None,
    found: Sequence[Signal],
    t: Thresholds,
) -> list[str]:
    notes = []
    how = how_pgconn_got_in(snap, kept=kept, opened_at=opened_at)
    if how is not None:
        notes.append(how)
    near = snap.server_headroom().share >= t.near_ratio
    pasted = any(s.kind in _SERVER_REFUSALS for s in found)
    if near or pasted or how is not None:
        path = reserved_path(snap)
        if not path.ready:
            notes.append(path.note())
    return notes


def _pooler(
    cluster: ClusterConfig, secrets: Sequence[str]
) -> tuple[PoolerSnapshot | None, list[str]]:
    dsn = cluster.pgbouncer_dsn
    if not dsn:
        return None, []
    try:
        # A new console connection each time: see Keepers for why it is not kept.
        return read_pooler(dsn, secrets=secrets), []
    except (PoolerError, DeadlineError) as exc:
        reason = redact_for_dsn(str(exc), dsn, secrets)
        return None, [
            f"PgBouncer's console for {cluster.name} could not be read: {reason}. Pooler "
            "findings are missing; pgconn needs a user listed in stats_users (or admin_users) "
            "and dbname=pgbouncer in pgbouncer_dsn."
        ]


def cluster_thresholds(cluster: ClusterConfig) -> Thresholds:
    """Triage's thresholds with the cluster's `triage` settings (global, then its own)."""
    t = cluster.triage
    return replace(
        DEFAULT_THRESHOLDS,
        idle_min_age_s=t.idle_seconds,
        idle_tx_min_age_s=t.idle_in_transaction_seconds,
        idle_min_sessions=t.leak_min_sessions,
        leak_share=t.leak_share,
    )


def _as_live_refusal(signal: Signal) -> Signal:
    return Signal(
        kind=signal.kind,
        role=signal.role,
        database=signal.database,
        sqlstate=signal.sqlstate,
        count=signal.count,
        source=LIVE_REFUSAL_SOURCE,
        first_line=signal.first_line,
        excerpt=signal.excerpt,
        detail=signal.detail,
    )


def _use_pasted(pasted: Pasted, no_snapshot: bool, no_pooler: bool) -> list[str]:
    """The paste's notes, or why its tables were not used: live readings are newer."""
    unused = [
        what
        for what, shown, missing in (
            ("pg_stat_activity rows", pasted.snapshot, no_snapshot),
            ("PgBouncer tables", pasted.pooler, no_pooler),
        )
        if shown is not None and not missing
    ]
    if unused:
        return [f"The pasted {' and '.join(unused)} were not used: the live readings are newer."]
    return list(pasted.notes)


def analyse(
    found: Sequence[Signal],
    cluster: ClusterConfig | None,
    playbooks: PlaybookSet,
    *,
    focus_role: str | None = None,
    secrets: Sequence[str] = (),
    extra_notes: Sequence[str] = (),
    thresholds: Thresholds | None = None,
    keepers: Keepers | None = None,
    pasted: Pasted | None = None,
    memory: int | None = None,
) -> Report:
    """Signals (possibly none) plus, when a cluster is given, live snapshots: the report.
    `keepers`: use (and keep) the process's open diagnostics connections. `thresholds`
    default to the cluster's `triage` settings. `pasted`: tables read from the paste
    (`bot.pasted.read`), triaged when there is no live snapshot. `memory`: the machine's
    memory in bytes (`--memory`), else the cluster's `memory` setting."""
    if thresholds is None:
        thresholds = cluster_thresholds(cluster) if cluster is not None else DEFAULT_THRESHOLDS
    notes = list(extra_notes)
    snapshot = None
    pooler = None
    all_signals = list(found)
    if cluster is not None:
        started = time.perf_counter()
        live = take_live(cluster, secrets, keepers=keepers, found=found, thresholds=thresholds)
        metrics.DIAGNOSIS_SECONDS.labels(cluster.name).observe(time.perf_counter() - started)
        metrics.DIAGNOSES.labels(cluster.name, "live" if live.snapshot else "no_live").inc()
        snapshot = live.snapshot
        pooler = live.pooler
        notes.extend(live.notes)
        all_signals.extend(live.refusal_signals)
    if pasted is not None:
        notes.extend(_use_pasted(pasted, snapshot is None, pooler is None))
        snapshot = snapshot or pasted.snapshot
        pooler = pooler or pasted.pooler
    return triage(
        all_signals,
        snapshot,
        cluster=cluster.name if cluster else None,
        playbooks=playbooks,
        focus_role=focus_role,
        notes=notes,
        thresholds=thresholds,
        pooler=pooler,
        memory=memory if memory is not None else (cluster.memory if cluster else None),
    )
