"""Plain-text wording of requests, results and audit entries: the terminal prints it, and the
chat renderers reuse the per-line pieces."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.remediation.model import ExecutionResult, Proposal, Target
from bot.store import ApprovalRequest, AuditEntry
from bot.triage.units import human_duration


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def target_line(t: Target) -> str:
    """`pid 4242 · app_user@appdb · application "checkout" from 10.0.3.4 · idle for 25 min ·
    connected since 2024-05-01 02:01:03+00:00`."""
    where = f"{t.role or '?'}@{t.database or '?'}"
    source = f'application "{t.application}"' if t.application else "no application name"
    client = "over the local socket" if t.client == "local" else f"from {t.client}"
    state = f"{t.state or 'state hidden'} for {human_duration(t.state_age_s)}"
    since = t.backend_start.isoformat(sep=" ", timespec="seconds")
    line = f"pid {t.pid} · {where} · {source} {client} · {state} · connected since {since}"
    if t.query and t.state != "idle":
        line += f" · query: {t.query[:120]}"
    return line


def request_lines(proposal: Proposal) -> list[str]:
    """The blast radius, then each target (or the change), then notes."""
    lines = [proposal.blast_radius]
    lines.extend(f"  {target_line(t)}" for t in proposal.targets)
    lines.extend(proposal.notes)
    return lines


def request_text(req: ApprovalRequest, proposal: Proposal) -> str:
    head = (
        f"Approval request {req.id} on {req.cluster}, by {req.requester}: {proposal.title}"
        f" (expires {when(req.expires_at)})"
    )
    return "\n".join([head, *request_lines(proposal), "SQL:", req.statement])


def result_lines(result: ExecutionResult) -> list[str]:
    lines = []
    if result.signalled:
        verb = "cancelled" if result.kind.value == "cancel" else "terminated"
        lines.append(f"{verb}: pid {', '.join(str(p) for p in result.signalled)}")
    elif result.changed:
        lines.append("ran the statement")
    lines.append(f"{result.outcome_label.lower()}: {result.freed}")
    for s in result.skipped:
        lines.append(f"left alone: {f'pid {s.pid}: ' if s.pid else ''}{s.reason}")
    if result.headroom:
        lines.append("headroom now:")
        lines.extend(f"  {h}" for h in result.headroom)
    return lines


def result_text(req: ApprovalRequest, result: ExecutionResult) -> str:
    return "\n".join(
        [
            f"Approval {req.id} on {req.cluster} ran:",
            *result_lines(result),
            "SQL:",
            result.statement,
        ]
    )


def audit_line(e: AuditEntry) -> str:
    """One audit entry on one line: seq, time, cluster, event, actor, request, details."""
    details = json.dumps(e.details, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return (
        f"{e.seq:>6} {when(e.at)} {e.cluster or '-'} {e.event} by {e.actor}"
        f"{f' [{e.approval_id}]' if e.approval_id else ''} {details}"
    )
