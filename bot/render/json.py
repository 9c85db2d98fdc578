"""A Report as plain JSON-safe data: datetimes in ISO 8601, enums as their values, stable keys."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum

from bot.diagnostics.model import Snapshot
from bot.signals.model import Signal
from bot.triage.model import Finding, PlaybookSection, Report, Severity


def report_to_dict(report: Report) -> dict[str, object]:
    return {
        "cluster": report.cluster,
        "live": report.live,
        "headline": report.headline,
        "findings": [finding_to_dict(f) for f in report.findings],
        "signals": [signal_to_dict(s) for s in report.signals],
        "snapshot": snapshot_to_dict(report.snapshot) if report.snapshot else None,
        "notes": list(report.notes),
    }


def severity_name(severity: Severity) -> str:
    """Severities are ordered numbers inside; outside, their names read better."""
    return severity.name.lower()


def finding_to_dict(f: Finding) -> dict[str, object]:
    return {
        "code": f.code,
        "severity": severity_name(f.severity),
        "title": f.title,
        "role": f.role,
        "database": f.database,
        "current": f.current,
        "limit": f.limit,
        "headroom": f.headroom.as_dict() if f.headroom else None,
        "evidence": list(f.evidence),
        "playbook": _playbook(f.playbook) if f.playbook else None,
        "actions": [
            {
                "kind": a.kind.value,
                "title": a.title,
                "summary": a.summary,
                "params": _plain(a.params),
            }
            for a in f.actions
        ],
    }


def _playbook(p: PlaybookSection) -> dict[str, object]:
    return {
        "id": p.playbook,
        "title": p.title,
        "now": list(p.now),
        "prevent": list(p.prevent),
        "sql": [
            {"purpose": s.purpose, "statement": s.statement, "destructive": s.destructive}
            for s in p.sql
        ],
        "withheld": list(p.withheld),
    }


def signal_to_dict(s: Signal) -> dict[str, object]:
    return {
        "kind": s.kind.value,
        "role": s.role,
        "database": s.database,
        "sqlstate": s.sqlstate,
        "count": s.count,
        "source": s.source,
        "first_line": s.first_line,
        "excerpt": s.excerpt,
        "detail": s.detail,
        "pooler": s.pooler,
    }


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, object]:
    data = {f.name: _plain(getattr(snapshot, f.name)) for f in dataclasses.fields(snapshot)}
    # The derived numbers people ask for first, so consumers need not recompute them.
    data["ordinary_slots"] = snapshot.settings.ordinary_slots
    data["ordinary_free"] = snapshot.ordinary_free
    data["headroom"] = {
        "server": snapshot.server_headroom().as_dict(),
        "roles": [
            snapshot.role_headroom(r.name).as_dict()
            for r in snapshot.roles
            if r.conn_limit >= 0 and not r.superuser
        ],
        "databases": [
            snapshot.database_headroom(d.name).as_dict()
            for d in snapshot.databases
            if d.conn_limit >= 0
        ],
    }
    return data


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Severity):
        return severity_name(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
