"""SIGKILL of `pgconn serve` after it signalled the sessions of an approved fix and before it
recorded the outcome: the next start reconciles the request against the live server, records
what it found and updates the request's Slack message."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.render.approval_blocks import APPROVE_ACTION
from tests import pg, serve
from tests.slack.conftest import Incident
from tests.slack.fake import FakeSlack, SlackSender
from tests.slack.listeners.test_approvals import _approval_buttons, _terminate_value

ADMIN_PASSWORD = "Admin-Pw-Kill-4471"
REQUESTER, APPROVER = "UALICE", "UDBA"
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)


def _click(
    sender: SlackSender, fake: FakeSlack, user: str, action: str, value: str, ts: str
) -> None:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": user},
        "api_app_id": "A0001",
        "trigger_id": "t.1",
        "response_url": fake.response_url(user),
        "channel": {"id": "CINC"},
        "container": {"type": "message", "message_ts": ts, "channel_id": "CINC", "thread_ts": ts},
        "message": {"ts": ts, "thread_ts": ts},
        "actions": [
            {
                "type": "button",
                "action_id": action,
                "block_id": "b",
                "value": value,
                "action_ts": "1",
            }
        ],
    }
    assert sender.interaction(payload).status_code == 200


def _sigterm_pending(pid: int) -> bool:
    """The stopped backend has a SIGTERM waiting: pg_terminate_backend reached it."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("ShdPnd:") and int(line.split()[1], 16) & SIGTERM_BIT:
                return True
    return False


def _wait(probe, what: str, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


def _events(state: Path, approval_id: str) -> list[tuple[str, dict[str, Any]]]:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT event, details FROM audit WHERE approval_id = ? ORDER BY seq", [approval_id]
        ).fetchall()
    return [(event, json.loads(details)) for event, details in rows]


@pytest.mark.timeout(240)
def test_sigkill_mid_fix_is_reconciled_at_the_next_start(
    incident: Incident, tmp_path: Path
) -> None:
    if incident.cluster.major != 15:
        pytest.skip("one major is enough for the process's behaviour")
    admin = pg.unique("pgconn_admin")
    pg.create_role(incident.cluster, admin, password=ADMIN_PASSWORD, extra="SUPERUSER")
    state = tmp_path / "state.sqlite3"
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "clusters": {
                    "prod": {
                        "dsn": incident.monitor_dsn,
                        "admin_dsn": incident.cluster.dsn(user=admin, password=ADMIN_PASSWORD),
                        "channels": ["CINC"],
                        "approvers": [APPROVER],
                    }
                },
                "state_path": str(state),
            }
        )
    )
    with pg.admin(incident.cluster) as conn:
        pids = sorted(
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE usename = %s", [incident.role]
            ).fetchall()
        )
    assert len(pids) == 2
    fake = FakeSlack().start()
    served = serve.start(config, fake, quiet=True)
    stopped: list[int] = []
    try:
        sender = served.sender()
        _click(sender, fake, REQUESTER, "pgconn.action.0.0", _terminate_value(incident), "1.1")
        request = _wait(
            lambda: [c for c in fake.find("chat.postMessage") if _approval_buttons(c)],
            "the approval request",
        )[0]
        approval_id = _approval_buttons(request)[APPROVE_ACTION]
        _wait(lambda: _events(state, approval_id) and True, "the request in the store")
        # Stopped backends keep the SIGTERM pending, so the runner waits for them to exit.
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        _click(sender, fake, APPROVER, APPROVE_ACTION, approval_id, "1.1")
        _wait(lambda: all(_sigterm_pending(p) for p in pids), "the signals", timeout=30)
        served.stop(signal.SIGKILL)
        sender.close()
    finally:
        for pid in stopped:
            os.kill(pid, signal.SIGCONT)
    events = _events(state, approval_id)
    names = [name for name, _ in events]
    assert "executing" in names and "executed" not in names, names
    intent = dict(events)["executing"]
    assert sorted(t["pid"] for t in intent["targets"]) == pids

    again = serve.start(config, fake, quiet=True)
    try:
        update = _wait(
            lambda: [
                c
                for c in fake.find("chat.update", ts=request.answer["ts"])
                if "Approved by" in c.shown()
            ],
            "the request's message updated",
            timeout=90,
        )
        thread = _wait(
            lambda: [
                c
                for c in fake.find("chat.postMessage")
                if "reconciled" in c.shown() and "2 of 2" in c.shown()
            ],
            "the thread told",
        )
    finally:
        again.stop()
        fake.stop()
    assert update and thread
    events = _events(state, approval_id)
    [reconciled] = [d for name, d in events if name == "reconciled"]
    assert sorted(reconciled["gone"]) == pids and reconciled["still_present"] == []
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        [(status,)] = db.execute("SELECT status FROM approvals WHERE id = ?", [approval_id])
    assert status == "done"
