"""One entry point for every adapter (CLI, Slack): text and/or cluster in, Report out.

It joins the pure core (signals, triage) with the one impure step (a live snapshot) and turns
every expected failure of that step into a note on the report: an on-call engineer always gets
the playbook, with or without live numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot import signals
from bot.config import ClusterConfig
from bot.diagnostics import diagnose
from bot.diagnostics.model import Snapshot
from bot.errors import CannotConnectError, DiagnosticsError
from bot.playbooks import PlaybookSet
from bot.signals.model import Signal
from bot.triage import DEFAULT_THRESHOLDS, Thresholds, triage
from bot.triage.model import Report


@dataclass(frozen=True)
class LiveResult:
    """A snapshot, or why there is none (and what the refusal itself revealed)."""

    snapshot: Snapshot | None
    notes: tuple[str, ...] = ()
    refusal_signals: tuple[Signal, ...] = ()


def take_live(cluster: ClusterConfig, secrets: Sequence[str] = ()) -> LiveResult:
    try:
        return LiveResult(diagnose(cluster.dsn, cluster.name, secrets=secrets))
    except CannotConnectError as exc:
        # The refusal is often the incident itself ("sorry, too many clients already").
        found = tuple(
            _as_live_refusal(s) for s in signals.scan(str(exc))
        )
        note = (
            f"pgconn could not connect to {cluster.name}: {exc}. The advice below comes from "
            "the pasted text alone. Give pgconn a reserved path (a role with "
            "pg_use_reserved_connections on PostgreSQL 16+, or superuser_reserved_connections "
            "for a superuser monitoring role) so it can still see a full server."
        )
        return LiveResult(None, (note,), found)
    except DiagnosticsError as exc:
        return LiveResult(None, (f"live diagnostics of {cluster.name} failed: {exc}",))


def _as_live_refusal(signal: Signal) -> Signal:
    return Signal(
        kind=signal.kind, role=signal.role, database=signal.database, sqlstate=signal.sqlstate,
        count=signal.count, source="pgconn-connect", first_line=signal.first_line,
        excerpt=signal.excerpt, detail=signal.detail,
    )


def analyse(
    found: Sequence[Signal],
    cluster: ClusterConfig | None,
    playbooks: PlaybookSet,
    *,
    focus_role: str | None = None,
    secrets: Sequence[str] = (),
    extra_notes: Sequence[str] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Report:
    """Signals (possibly none) plus, when a cluster is given, a live snapshot: the report."""
    notes = list(extra_notes)
    snapshot = None
    all_signals = list(found)
    if cluster is not None:
        live = take_live(cluster, secrets)
        snapshot = live.snapshot
        notes.extend(live.notes)
        all_signals.extend(live.refusal_signals)
    return triage(
        all_signals,
        snapshot,
        cluster=cluster.name if cluster else None,
        playbooks=playbooks,
        focus_role=focus_role,
        notes=notes,
        thresholds=thresholds,
    )
