"""`pgconn audit` prints every step of a real fix, newest first, as text or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from tests.remediation.conftest import (
    ADMIN_PASSWORD,
    APPROVER,
    OTHER,
    REQUESTER,
    Leak,
    Rig,
    admin_role,
    config,
    terminate,
)


def _write_config(path: Path, leak: Leak, admin_dsn: str, state: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": {
                    "prod": {"dsn": leak.cluster.dsn(), "admin_dsn": admin_dsn},
                    "dev": {"dsn": "host=dev"},
                },
                "approvers": [APPROVER],
                "state_path": str(state),
            }
        )
    )
    return path


def test_audit_prints_every_step(
    leak: Leak, rig: Rig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    admin_dsn = admin_role(leak.cluster)
    r = rig.remediation(config(leak.cluster, admin_dsn, rig.tmp_path))
    req = r.request("prod", terminate(leak.role), REQUESTER)
    r.approve(req.id, REQUESTER)
    r.approve(req.id, OTHER)
    r.approve(req.id, APPROVER)
    path = _write_config(tmp_path / "pgconn.yaml", leak, admin_dsn, rig.tmp_path / "state.sqlite3")

    assert main(["audit", "--config", str(path), "--json"]) == 0
    out = capsys.readouterr().out
    entries = json.loads(out)
    assert [e["event"] for e in entries] == [
        "executed",
        "executing",  # the intent: the exact targets, recorded before anything was signalled
        "approved",
        "refused",
        "refused",
        "requested",
    ]
    assert {e["approval_id"] for e in entries} == {req.id}
    assert entries[0]["actor"] == APPROVER
    assert sorted(entries[0]["details"]["signalled"]) == sorted(leak.pids)
    assert sorted(t["pid"] for t in entries[1]["details"]["targets"]) == sorted(leak.pids)
    assert entries[-1]["details"]["statement"].startswith("SELECT t.pid")
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)
    assert ADMIN_PASSWORD not in out

    assert main(["audit", "--config", str(path), "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert " prod executed by UAPPROVER " in lines[0]
    assert req.id in lines[0]

    assert main(["audit", "--config", str(path), "--cluster", "dev", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_audit_without_a_store_yet(
    tmp_path: Path, leak: Leak, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "never-written.sqlite3"
    path = _write_config(tmp_path / "pgconn.yaml", leak, "host=db", state)
    assert main(["audit", "--config", str(path)]) == 0
    assert "the audit log is empty" in capsys.readouterr().out
    assert not state.exists()
    assert main(["audit", "--config", str(path), "--limit", "0"]) == 2
