"""Every action checks the same channel bindings as `/pgconn`, whatever its button; a decision
counts only from the channel its request was posted in."""

from __future__ import annotations

import json
from typing import Any

from bot.render.approval_blocks import APPROVE_ACTION
from bot.warnings.render import TRIAGE_ACTION
from tests.slack.conftest import DOWN_DSN, Bot, Incident, StartBot
from tests.slack.listeners.test_approvals import (
    APPROVER,
    _ephemeral,
    _sessions_of,
    _terminate_request,
    armed,  # noqa: F401 - the fixture
)


def _triage_click(bot: Bot, cluster: str, channel: str, name: str) -> None:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": "UBOB"},
        "api_app_id": "A0001",
        "trigger_id": "t.7",
        "response_url": bot.fake.response_url(name),
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": "1700.0001", "channel_id": channel},
        "actions": [
            {
                "type": "button",
                "action_id": TRIAGE_ACTION,
                "block_id": "b",
                "value": json.dumps({"cluster": cluster}),
                "action_ts": "1.7",
            }
        ],
    }
    assert bot.send.interaction(payload).status_code == 200


def test_a_tampered_full_triage_button_posts_no_other_clusters_report(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot(
        {
            "prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"], "alert_channel": "CALERT"},
            "secret": {"dsn": DOWN_DSN, "channels": ["CSECRET"]},
        }
    )
    _triage_click(bot, "secret", "CINC", "tampered")
    assert "may not be used from this channel" in _ephemeral(bot, "tampered").shown()
    # The same click on its own cluster, in the channel its warnings go to, still works.
    _triage_click(bot, "prod", "CALERT", "genuine")
    bot.fake.wait_for(lambda: len(bot.thread("CALERT", "1700.0001")) >= 2)
    assert not bot.posts("CINC")
    assert not [c for c in bot.posts() if "secret" in c.shown()]


def test_a_decision_from_another_channel_decides_nothing(
    armed: Bot,  # noqa: F811 - the fixture
    incident: Incident,
) -> None:
    bot = armed
    pids = _sessions_of(incident)
    _, request, approval_id = _terminate_request(bot, incident)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001"},
        "user": {"id": APPROVER},
        "api_app_id": "A0001",
        "trigger_id": "t.9",
        "response_url": bot.fake.response_url("elsewhere"),
        "channel": {"id": "CELSEWHERE"},
        "container": {"type": "message", "message_ts": request.answer["ts"]},
        "actions": [
            {
                "type": "button",
                "action_id": APPROVE_ACTION,
                "block_id": "b",
                "value": approval_id,
                "action_ts": "1.9",
            }
        ],
    }
    assert bot.send.interaction(payload).status_code == 200
    assert "not posted in this channel" in _ephemeral(bot, "elsewhere").shown()
    assert _sessions_of(incident) == pids
    assert not bot.fake.find("chat.update", ts=request.answer["ts"])
