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


def test_a_warnings_full_triage_button_threads_the_report_under_it(
    start_bot: StartBot, incident: Incident
) -> None:
    from bot.warnings.render import TRIAGE_ACTION

    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "alert_channel": "CALERT"}})
    response = bot.send.interaction(
        {
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": "UBOB"},
            "api_app_id": "A0001",
            "trigger_id": "t.7",
            "response_url": bot.fake.response_url("triage"),
            "channel": {"id": "CALERT"},
            "container": {"type": "message", "message_ts": "1700.0001", "channel_id": "CALERT"},
            "actions": [
                {
                    "type": "button",
                    "action_id": TRIAGE_ACTION,
                    "block_id": "b",
                    "value": json.dumps({"cluster": "prod", "role": incident.role}),
                    "action_ts": "1.7",
                }
            ],
        }
    )
    assert response.status_code == 200
    posted = bot.fake.wait_for(
        lambda: (t := bot.thread("CALERT", "1700.0001")) and len(t) >= 2 and t
    )
    assert incident.role in posted[0].shown()
    assert "2/2" in posted[0].shown() or "2 of its 2" in json.dumps(posted[0].body)
