"""`pgconn incident export`: the story of a real incident — an alert that fired and resolved,
the report posted, a fix requested, refused to its requester, approved and run on a real
server — told from the state store's records, in order, with who did what."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.slack.alert_threads import AlertThread, AlertThreads
from bot.slack.incidents import Incident, Incidents
from bot.story import parse_since
from tests.remediation.conftest import (
    APPROVER,
    REQUESTER,
    Leak,
    Rig,
    admin_role,
    config,
    terminate,
)


def test_the_story_of_an_incident_in_order(
    leak: Leak, rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin_dsn = admin_role(leak.cluster)
    cfg = config(leak.cluster, admin_dsn, rig.tmp_path)
    store = rig.store(cfg)
    start = rig.clock.now
    # 00:00 the team's alert fires; pgconn answers it (the alert thread and the report).
    threads = AlertThreads(lambda: store)
    key = "alert:prod:postgresqlmaxconnectionsreached"
    fired = AlertThread("prod", "PostgreSQLMaxConnectionsReached", fired_at=start)
    assert threads.claim(key, fired, None)
    fired = threads.update(key, fired, channel="CALERTS", thread_ts="1.1")
    entity = {"kind": "role", "name": leak.role, "used": 3, "limit": 3}
    Incidents(lambda: store).claim(
        Incident("prod", start + 5, start + 5, f"Role {leak.role} is at its limit", entity),
        stale_before=start,
    )
    # 00:02 a fix is requested, its requester may not approve it, the approver runs it.
    rig.clock.now = start + 120
    r = rig.remediation(cfg)
    req = r.request("prod", terminate(leak.role), REQUESTER)
    r.approve(req.id, REQUESTER)
    rig.clock.now = start + 180
    r.approve(req.id, APPROVER)
    assert leak.alive() == set()
    # 00:10 the alert resolves.
    threads.update(key, fired, resolved_at=start + 600)

    path = tmp_path / "pgconn.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": {"prod": {"dsn": leak.cluster.dsn(), "admin_dsn": admin_dsn}},
                "state_path": str(cfg.state_path),
            }
        )
    )
    assert main(["incident", "export", "--config", str(path), "--since", "2027-01-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Connection incident: prod\n")
    assert "- Fixes requested: 1, run: 1" in out
    rows = [line for line in out.splitlines() if line.startswith("| 20")]
    expected = [
        ("+0 s", "Alert `PostgreSQLMaxConnectionsReached` fired"),
        ("+5 s", f"First report in chat: Role {leak.role} is at its limit"),
        ("+2 min", f"Fix requested by {REQUESTER}"),
        ("+2 min", f"Refused to {REQUESTER} (approve)"),
        ("+3 min", f"Fix approved by {APPROVER} (requested by {REQUESTER})"),
        ("+3 min", f"Fix run on {APPROVER}'s approval: signalled pid"),
        ("+10 min", "Alert `PostgreSQLMaxConnectionsReached` resolved after 10 min"),
    ]
    assert len(rows) == len(expected), out
    for row, (after, what) in zip(rows, expected, strict=True):
        assert f"| {after} | prod | {what}" in row, (row, after, what)
    assert "Terminate 3 session" in rows[2]
    assert "SELECT" not in out  # the guarded statement stays in `pgconn audit`

    # Only what happened after --since, and nothing for another cluster.
    assert main(["incident", "export", "--config", str(path), "--cluster", "dev"]) == 0
    assert "Nothing recorded" in capsys.readouterr().out


def test_since_takes_spans_and_dates() -> None:
    now = 1_800_000_000.0
    assert parse_since("90m", now) == now - 5400
    assert parse_since("6h", now) == now - 6 * 3600
    assert parse_since("2d", now) == now - 2 * 86400
    assert (
        parse_since("2027-01-15T08:00", now) == 1_800_000_000.0 - (1_800_000_000 % 86400) + 8 * 3600
    )
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday", now)
