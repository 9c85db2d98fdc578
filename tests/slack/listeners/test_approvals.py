"""Approval-gated fixes through the bot's real endpoint and a fake Slack, on a real server: a
fix button → the approval request in the thread → refusals → approval → the result and the
fresh headroom in the thread; rejection and expiry update the request's message."""

from __future__ import annotations

import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.remediation import ExpirySweeper
from bot.render.approval_blocks import APPROVE_ACTION, REJECT_ACTION
from bot.render.blocks import action_value
from bot.slack.listeners.approvals import Approvals
from bot.triage.model import ActionKind, Finding, ProposedAction, Severity
from tests import pg
from tests.slack.conftest import Bot, Incident, StartBot, buttons
from tests.slack.fake import Call

ADMIN_PASSWORD = "Admin-Pw-Slack-9926"
REQUESTER, APPROVER, STRANGER = "UALICE", "UDBA", "UMALLORY"
_TRIGGERS = itertools.count(1)


@pytest.fixture
def armed(
    start_bot: StartBot, incident: Incident, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Bot:
    """The bot with remediation configured for prod; its state store in a temporary dir."""
    monkeypatch.chdir(tmp_path)  # the default state_path is relative
    admin = pg.unique("pgconn_admin")
    pg.create_role(incident.cluster, admin, password=ADMIN_PASSWORD, extra="SUPERUSER")
    return start_bot(
        {
            "prod": {
                "dsn": incident.monitor_dsn,
                "admin_dsn": incident.cluster.dsn(user=admin, password=ADMIN_PASSWORD),
                "channels": ["CINC"],
                "approvers": [APPROVER],
            }
        }
    )


def _click(bot: Bot, user: str, action_id: str, value: str, message: Call, response: str) -> None:
    thread_ts = message.body.get("thread_ts") or message.answer["ts"]
    reply = bot.send.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0001",
            "trigger_id": f"t.{next(_TRIGGERS)}",  # Slack's is new for every click
            "response_url": bot.fake.response_url(response),
            "channel": {"id": "CINC"},
            "container": {
                "type": "message",
                "message_ts": message.answer["ts"],
                "channel_id": "CINC",
                "thread_ts": thread_ts,
            },
            "message": {"ts": message.answer["ts"], "thread_ts": thread_ts},
            "actions": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "block_id": "b",
                    "value": value,
                    "action_ts": "1.9",
                }
            ],
        }
    )
    assert reply.status_code == 200
    assert reply.text == ""  # acknowledged at once; the work happens after


def _ephemeral(bot: Bot, name: str) -> Call:
    [reply] = bot.fake.wait_for(
        lambda: [c for c in bot.fake.find("response") if c.path.endswith(f"/{name}")]
    )
    assert reply.body["response_type"] == "ephemeral"
    return reply


def _approval_buttons(call: Call) -> dict[str, str]:
    found = {}
    for block in call.blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element["action_id"].startswith("pgconn.approval."):
                found[element["action_id"]] = element["value"]
    return found


def _requests(bot: Bot) -> list[Call]:
    return [c for c in bot.posts("CINC") if _approval_buttons(c)]


def _request_message(bot: Bot, seen: int = 0) -> Call:
    """The newest approval request, once there are more than `seen`."""
    return bot.fake.wait_for(lambda: (found := _requests(bot)) and len(found) > seen and found)[-1]


def _report(bot: Bot) -> list[Call]:
    bot.send.command("prod")
    return bot.fake.wait_for(
        lambda: [c for c in bot.posts("CINC") if "thread_ts" in c.body and buttons(c)]
    )


def test_a_report_button_through_refusals_to_the_result(armed: Bot, incident: Incident) -> None:
    bot = armed
    [report, *_] = _report(bot)
    button = next(
        b
        for b in buttons(report)
        if json.loads(b["value"])["kind"] == ActionKind.SET_ROLE_CONN_LIMIT.value
    )
    new_limit = json.loads(button["value"])["params"]["limit"]

    _click(bot, REQUESTER, button["action_id"], button["value"], report, "request")
    request = _request_message(bot)
    assert request.body["thread_ts"] == report.body["thread_ts"]
    shown = request.shown()
    assert f'ALTER ROLE \\"{incident.role}\\" CONNECTION LIMIT {new_limit}' in shown
    assert f"<@{APPROVER}>" in shown
    assert "never the requester" in shown
    approval_id = _approval_buttons(request)[APPROVE_ACTION]

    _click(bot, REQUESTER, APPROVE_ACTION, approval_id, request, "own")
    own = _ephemeral(bot, "own")
    assert "two-person rule" in own.shown()
    assert f"<@{APPROVER}>" in own.shown()
    _click(bot, STRANGER, APPROVE_ACTION, approval_id, request, "stranger")
    stranger = _ephemeral(bot, "stranger")
    assert "not an approver" in stranger.shown()
    assert f"<@{APPROVER}>" in stranger.shown()
    with pg.admin(incident.cluster) as conn:
        assert conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [incident.role]
        ).fetchone() == (2,)

    _click(bot, APPROVER, APPROVE_ACTION, approval_id, request, "approve")
    [result] = bot.fake.wait_for(
        lambda: [
            c for c in bot.thread("CINC", report.body["thread_ts"]) if "Fix ran on" in c.shown()
        ]
    )
    assert "Headroom now" in result.shown()
    assert f"2 of {new_limit} used" in result.shown()
    assert "*Changed:*" in result.shown() and "*Freed:*" not in result.shown()
    [update] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=request.answer["ts"]))
    assert "Approved and run" in update.shown()
    assert f"<@{APPROVER}>" in update.shown()
    assert not _approval_buttons(update)
    with pg.admin(incident.cluster) as conn:
        assert conn.execute(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = %s", [incident.role]
        ).fetchone() == (new_limit,)
    assert ADMIN_PASSWORD not in json.dumps([c.raw for c in bot.fake.calls])


def _terminate_value(incident: Incident) -> str:
    """The button a report shows once the leaked sessions have idled long enough."""
    action = ProposedAction(
        ActionKind.TERMINATE,
        "Terminate",
        "frees slots",
        {"role": incident.role, "state": "idle", "min_age_s": 0},
    )
    finding = Finding(
        code="role_limit", severity=Severity.CRITICAL, title="full", evidence=(), actions=(action,)
    )
    return action_value("prod", finding, action)


def _terminate_request(bot: Bot, incident: Incident) -> tuple[Call, Call, str]:
    seen = len(_requests(bot))
    [report, *_] = _report(bot)
    _click(bot, REQUESTER, "pgconn.action.0.0", _terminate_value(incident), report, "request")
    request = _request_message(bot, seen)
    return report, request, _approval_buttons(request)[APPROVE_ACTION]


def _sessions_of(incident: Incident) -> list[int]:
    with pg.admin(incident.cluster) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s", [incident.role]
        ).fetchall()
    return sorted(r[0] for r in rows)


def test_terminating_the_leaked_sessions_from_slack(armed: Bot, incident: Incident) -> None:
    bot = armed
    pids = _sessions_of(incident)
    report, request, approval_id = _terminate_request(bot, incident)
    shown = request.shown()
    assert "pg_terminate_backend" in shown
    # The plain statement names the exact sessions.
    assert f"WHERE pid IN ({', '.join(str(p) for p in pids)})" in shown

    _click(bot, APPROVER, APPROVE_ACTION, approval_id, request, "approve")
    # A double click (or a retried interaction) runs nothing more.
    _click(bot, APPROVER, APPROVE_ACTION, approval_id, request, "again")
    [result] = bot.fake.wait_for(
        lambda: [
            c for c in bot.thread("CINC", report.body["thread_ts"]) if "Fix ran on" in c.shown()
        ]
    )
    assert "Terminated pid " + ", ".join(str(p) for p in pids) in result.shown()
    assert f'role \\"{incident.role}\\": 0 of 2 used (0%), 2 free' in result.shown()
    assert "was approved" in _ephemeral(bot, "again").shown()
    assert _sessions_of(incident) == []
    psycopg.connect(incident.cluster.dsn(user=incident.role, password="pw-secret-1234")).close()
    fixes = [c for c in bot.thread("CINC", report.body["thread_ts"]) if "Fix ran" in c.shown()]
    assert len(fixes) == 1


def test_reject_and_expiry_update_the_request(
    armed: Bot, incident: Incident, tmp_path: Path
) -> None:
    bot = armed
    _, request, approval_id = _terminate_request(bot, incident)
    _click(bot, APPROVER, REJECT_ACTION, approval_id, request, "reject")
    [update] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=request.answer["ts"]))
    assert "Rejected" in update.shown()
    assert not _approval_buttons(update)

    # A second request, whose time runs out: an approval after that refuses and says so.
    _, late, late_id = _terminate_request(bot, incident)
    with sqlite3.connect(tmp_path / "pgconn-state.sqlite3") as db:
        db.execute("UPDATE approvals SET expires_at = 0 WHERE id = ?", [late_id])
    _click(bot, APPROVER, APPROVE_ACTION, late_id, late, "late")
    assert "expired" in _ephemeral(bot, "late").shown()
    [expired] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=late.answer["ts"]))
    assert "Expired" in expired.shown()
    assert "nothing ran" in expired.shown()
    assert len(_sessions_of(incident)) == 2

    # A third one nobody clicks: the sweeper marks its message expired.
    _, unclicked, unclicked_id = _terminate_request(bot, incident)
    with sqlite3.connect(tmp_path / "pgconn-state.sqlite3") as db:
        # The bot records where it posted the request right after posting it.
        bot.fake.wait_for(
            lambda: db.execute(
                "SELECT message_ts FROM approvals WHERE id = ?", [unclicked_id]
            ).fetchone()[0]
        )
        db.execute("UPDATE approvals SET expires_at = 0 WHERE id = ?", [unclicked_id])
    approvals = Approvals(bot.ctx)
    try:
        assert ExpirySweeper(approvals.remediation(), approvals.show).sweep() == 1
    finally:
        approvals.close()
    [swept] = bot.fake.wait_for(lambda: bot.fake.find("chat.update", ts=unclicked.answer["ts"]))
    assert "Expired" in swept.shown()


def test_a_forged_button_for_another_channel_requests_nothing(
    armed: Bot, incident: Incident
) -> None:
    bot = armed
    [report, *_] = _report(bot)
    forged: dict[str, Any] = {"channel": {"id": "CELSEWHERE"}}
    reply = bot.send.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": REQUESTER},
            "api_app_id": "A0001",
            "trigger_id": "t.1",
            "response_url": bot.fake.response_url("forged"),
            **forged,
            "container": {"type": "message", "message_ts": report.answer["ts"]},
            "actions": [
                {
                    "type": "button",
                    "action_id": "pgconn.action.0.0",
                    "block_id": "b",
                    "value": _terminate_value(incident),
                    "action_ts": "1.1",
                }
            ],
        }
    )
    assert reply.status_code == 200
    assert "may not be used from this channel" in _ephemeral(bot, "forged").shown()
    assert not [c for c in bot.posts() if _approval_buttons(c)]
