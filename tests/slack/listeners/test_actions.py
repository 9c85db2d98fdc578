"""The proposed-fix buttons of a real report (the cluster picker is in test_events)."""

from __future__ import annotations

import json

from tests.slack.conftest import Incident, StartBot, buttons


def test_a_fix_button_without_admin_dsn_says_remediation_is_not_configured(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    bot.send.command("prod")
    thread = bot.fake.wait_for(
        lambda: [c for c in bot.posts("CINC") if "thread_ts" in c.body and buttons(c)]
    )
    button = buttons(thread[0])[0]
    response = bot.send.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": "UBOB"},
            "api_app_id": "A0001",
            "trigger_id": "t.2",
            "response_url": bot.fake.response_url("fix"),
            "channel": {"id": "CINC"},
            "container": {"type": "message", "message_ts": thread[0].answer["ts"]},
            "actions": [
                {
                    "type": "button",
                    "action_id": button["action_id"],
                    "block_id": "b",
                    "value": button["value"],
                    "action_ts": "1.3",
                }
            ],
        }
    )
    assert response.status_code == 200
    [reply] = bot.fake.wait_for(lambda: bot.fake.find("response"))
    assert reply.body["response_type"] == "ephemeral"
    assert "Remediation is not configured for prod" in reply.shown()
    assert "admin_dsn" in reply.shown()
    assert json.loads(button["value"])["cluster"] == "prod"
