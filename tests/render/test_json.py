"""JSON output: plain data, stable keys, signals in the documented form."""

from __future__ import annotations

import json
from datetime import datetime

from bot.render.json import report_to_dict
from bot.triage import triage
from bot.triage.model import Report
from tests.factories import NOW, repo_playbooks, sessions, signal, snapshot

SIGNAL_KEYS = {
    "kind",
    "role",
    "database",
    "sqlstate",
    "count",
    "source",
    "first_line",
    "excerpt",
    "detail",
    "pooler",
}


def report(live: bool = True) -> Report:
    snap = (
        snapshot(
            sessions(17, age_s=1800) + sessions(3, state="active"), role_limits={"app_user": 20}
        )
        if live
        else None
    )
    sig = signal(
        "role_limit",
        role="app_user",
        count=3,
        first_line=12,
        source="csvlog",
        sqlstate="53300",
        excerpt="too many connections",
        detail=None,
    )
    return triage([sig], snap, cluster="prod", playbooks=repo_playbooks())


def test_round_trips_through_json() -> None:
    r = report()
    data = report_to_dict(r)
    assert json.loads(json.dumps(data)) == data
    assert list(data) == ["cluster", "live", "headline", "findings", "signals", "snapshot", "notes"]
    assert data["headline"] == r.headline
    assert data["live"] is True


def test_findings_carry_everything_with_enums_as_plain_values() -> None:
    r = report()
    data = report_to_dict(r)
    findings = data["findings"]
    assert isinstance(findings, list)
    assert len(findings) == len(r.findings)
    first = findings[0]
    assert first["code"] == "role_limit"
    assert first["severity"] == "critical"
    assert (first["current"], first["limit"]) == (20, 20)
    assert first["evidence"] == list(r.findings[0].evidence)
    playbook = first["playbook"]
    assert playbook["id"] == "role-limit"
    assert set(playbook) == {"id", "title", "now", "prevent", "sql", "withheld"}
    assert all(set(s) == {"purpose", "statement", "destructive"} for s in playbook["sql"])
    action = first["actions"][0]
    assert action["kind"] == "set_role_conn_limit"
    assert action["params"]["role"] == "app_user"
    leak = findings[1]
    assert leak["actions"][0]["params"]["pids"] == r.findings[1].actions[0].params["pids"]


def test_signals_have_the_documented_keys() -> None:
    data = report_to_dict(report())
    (s,) = data["signals"]
    assert set(s) == SIGNAL_KEYS
    assert s == {
        "kind": "role_limit",
        "role": "app_user",
        "database": None,
        "sqlstate": "53300",
        "count": 3,
        "source": "csvlog",
        "first_line": 12,
        "excerpt": "too many connections",
        "detail": None,
        "pooler": None,
    }


def test_snapshot_is_included_with_iso_datetimes() -> None:
    data = report_to_dict(report())
    snap = data["snapshot"]
    assert isinstance(snap, dict)
    assert datetime.fromisoformat(snap["taken_at"]) == NOW
    assert snap["settings"]["max_connections"] == 100
    assert snap["ordinary_free"] == 100 - 3 - 20 - 1
    assert isinstance(snap["groups"], list)
    assert datetime.fromisoformat(snap["oldest_idle"][0]["state_change"]) < NOW


def test_without_live_data() -> None:
    data = report_to_dict(report(live=False))
    assert data["live"] is False
    assert data["snapshot"] is None
    assert json.dumps(data)


def test_keys_are_stable_across_reports() -> None:
    a = report_to_dict(report())
    b = report_to_dict(report(live=False))
    assert list(a) == list(b)
    assert list(a["findings"][0]) == list(b["findings"][0])
