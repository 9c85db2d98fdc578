"""The incident's story for the postmortem: what the state store recorded, in time order, as
Markdown. Read from the alert threads and reports kept for one-thread-per-incident, the open
warnings, and the append-only audit of fixes (who requested, approved, ran what)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.store import AuditEntry, Store
from bot.triage.units import human_duration

_SPAN = re.compile(r"^(\d+)\s*(m|min|h|d)$")
_UNIT_S = {"m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: float) -> float:
    """`90m`, `6h`, `2d` ago, or an ISO date/time (UTC unless it says otherwise)."""
    m = _SPAN.match(text.strip())
    if m:
        return now - int(m.group(1)) * _UNIT_S[m.group(2)]
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"--since {text!r}: give a span (90m, 6h, 2d) or a date/time (2026-12-03T18:00)"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


@dataclass(frozen=True)
class Event:
    at: float
    cluster: str
    what: str


_INTENT = "executing"  # the audit event `remediation.approvals` records before a fix acts
_OUTCOMES = {"executed", "failed", "reconciled"}


def events(store: Store, since: float, cluster: str | None = None) -> list[Event]:
    """Everything recorded at or after `since` (of one cluster when given), oldest first."""
    found: list[Event] = []
    for key, at, data in store.incidents(since):
        if key.startswith("alert:"):
            found.extend(_alert_events(at, data))
        else:
            found.extend(_report_events(key, at, data))
    for state in store.alerts(cluster):
        if state.since >= since:
            entity = f"{state.entity_kind} {state.entity}".strip()
            found.append(
                Event(
                    state.since, state.cluster, f"Warning ({state.level}) on {entity}, still open"
                )
            )
    entries = list(reversed(store.audit(limit=100_000, cluster=cluster)))  # oldest first
    # A run's intent record (its targets, written before it acts) is news only when no
    # outcome followed it: then it is a run left mid-way.
    settled = {e.approval_id for e in entries if e.event in _OUTCOMES}
    for entry in entries:
        if entry.event == _INTENT and entry.approval_id in settled:
            continue
        if entry.at >= since:
            found.append(Event(entry.at, entry.cluster or "-", _audit_what(entry)))
    return sorted((e for e in found if cluster is None or e.cluster == cluster), key=lambda e: e.at)


def _alert_events(fired_at: float, d: dict[str, object]) -> list[Event]:
    cluster, name = str(d.get("cluster") or "-"), str(d.get("name") or "alert")
    again = int(str(d.get("refired") or 0))
    out = [Event(fired_at, cluster, f"Alert `{name}` fired; pgconn posted the live triage")]
    if again:
        out[0] = Event(fired_at, cluster, out[0].what + f" (it fired again {again} more times)")
    resolved = d.get("resolved_at")
    if isinstance(resolved, int | float):
        took = human_duration(float(resolved) - fired_at)
        out.append(Event(float(resolved), cluster, f"Alert `{name}` resolved after {took}"))
    return out


def _report_events(cluster: str, reported_at: float, d: dict[str, object]) -> list[Event]:
    since = d.get("since")
    first = float(since) if isinstance(since, int | float) else reported_at
    headline = str(d.get("headline") or "a report")
    out = [Event(first, cluster, f"First report in chat: {headline}")]
    entity = d.get("entity")
    if isinstance(entity, dict) and reported_at != first:
        out.append(
            Event(
                reported_at,
                cluster,
                f"Latest report: {entity.get('kind')} {entity.get('name') or ''} at "
                f"{entity.get('used')}/{entity.get('limit')}".replace("  ", " "),
            )
        )
    if d.get("closed"):
        out.append(Event(reported_at, cluster, "Card closed: a later diagnosis showed room again"))
    return out


def _audit_what(e: AuditEntry) -> str:
    d = e.details
    who = e.actor
    if e.event == "requested":
        # The title says what it does; the guarded statement stays in `pgconn audit`.
        return f"Fix requested by {who}: {d.get('title') or d.get('action')}"
    if e.event == "approved":
        return f"Fix approved by {who} (requested by {d.get('requester')})"
    if e.event == "rejected":
        return f"Fix rejected by {who}"
    if e.event == "refused":
        return f"Refused to {who} ({d.get('step')}): {d.get('reason')}"
    if e.event == "expired":
        return "Fix request expired unapproved"
    if e.event == "executed":
        signalled = d.get("signalled") or []
        done = f"signalled pid {', '.join(str(p) for p in signalled)}" if signalled else "ran"
        return f"Fix run on {who}'s approval: {done}"
    if e.event == "failed":
        return f"Fix failed: {d.get('error')}"
    if e.event == _INTENT:
        return f"Fix started on {who}'s approval; pgconn stopped before recording its outcome"
    if e.event == "reconciled":
        return f"Fix left mid-way, reconciled against the live server: {d}"
    return f"{e.event} by {who}"


def markdown(found: list[Event], since: float, now: float) -> str:
    """The story as Markdown: a summary, then the timeline with time since the first event."""
    span = f"{_utc(since)} to {_utc(now)}"
    if not found:
        return f"# Connection incidents\n\nNothing recorded from {span}.\n"
    start, end = found[0].at, found[-1].at
    clusters = sorted({e.cluster for e in found})
    fixes_run = [e for e in found if e.what.startswith("Fix run")]
    lines = [
        f"# Connection incident: {', '.join(clusters)}",
        "",
        f"- First record: {_utc(start)} — {found[0].what}",
        f"- Last record: {_utc(end)} ({human_duration(end - start)} later) — {found[-1].what}",
        f"- Fixes requested: {sum(e.what.startswith('Fix requested') for e in found)}, "
        f"run: {len(fixes_run)}",
        "",
        "## Timeline",
        "",
        "| time (UTC) | after | cluster | what |",
        "| --- | --- | --- | --- |",
    ]
    for e in found:
        what = e.what.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {_utc(e.at)} | +{human_duration(e.at - start)} | {e.cluster} | {what} |")
    return "\n".join(lines) + "\n"


def _utc(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S")
