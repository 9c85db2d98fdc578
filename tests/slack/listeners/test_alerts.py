"""Alerts posted by the team's monitors (`slack.alert_sources`), through the bot's real endpoint:
mapped to a cluster by their labels, triaged live in their thread, one thread per alert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.slack.conftest import Bot, Incident, StartBot
from tests.slack.fake import Call

ALERTMANAGER = "BALERTMGR1"  # the incoming webhook's bot
DATADOG_APP = "A0DATADOG1"  # an app: its messages carry bot_profile.app_id


def clusters(incident: Incident) -> dict[str, Any]:
    return {
        "prod": {"dsn": incident.monitor_dsn, "alert_labels": {"instance": "db-prod-*"}},
        "staging": {"dsn": incident.monitor_dsn, "alert_labels": {"instance": "db-staging-*"}},
    }


def start(start_bot: StartBot, incident: Incident, tmp_path: Path) -> Bot:
    return start_bot(
        clusters(incident),
        top={"warnings": {"reopen_seconds": 600}, "state_path": str(tmp_path / "state.db")},
        alert_sources=[ALERTMANAGER, DATADOG_APP],
    )


def am_message(bot: Bot, status: str, *, bot_id: str = ALERTMANAGER) -> str:
    """What Alertmanager's Slack notifier posts through an incoming webhook: an attachment
    with the default title and a text template listing the labels."""
    title = (
        f"[{status.upper()}{':1' if status == 'firing' else ''}] PostgreSQLMaxConnectionsReached"
    )
    text = (
        "*Alert:* db-prod-1:9187 has maxed out Postgres connections. - `warning`\n"
        "*Details:*\n"
        "  • *alertname:* `PostgreSQLMaxConnectionsReached`\n"
        "  • *instance:* `db-prod-1:9187`\n"
        "  • *job:* `postgres`\n"
    )
    ts, response = bot.send.message(
        "",
        channel="CALERTS",
        user=None,
        bot_id=bot_id,
        subtype="bot_message",
        username="Alertmanager",
        attachments=[{"title": title, "text": text, "fallback": title, "color": "danger"}],
    )
    assert response.status_code == 200
    return ts


def cards(bot: Bot) -> list[Call]:
    return [c for c in bot.posts("CALERTS") if c.body.get("text", "").startswith("prod:")]


def test_an_alert_gets_the_live_triage_of_its_cluster_in_its_thread(
    start_bot: StartBot, incident: Incident, tmp_path: Path
) -> None:
    bot = start(start_bot, incident, tmp_path)
    ts = am_message(bot, "firing")
    note = "PostgreSQLMaxConnectionsReached (instance=db-prod-1:9187) mapped to prod"
    thread = bot.fake.wait_for(
        lambda: (t := bot.thread("CALERTS", ts)) and any(note in c.shown() for c in t) and t
    )
    assert cards(bot) and cards(bot)[0].body["thread_ts"] == ts
    assert incident.role in thread[0].shown()  # the live finding: the role really at its limit
    assert all(c.body.get("thread_ts") == ts for c in bot.posts("CALERTS"))


def test_firing_resolved_and_flapping_stay_in_one_thread(
    start_bot: StartBot, incident: Incident, tmp_path: Path
) -> None:
    bot = start(start_bot, incident, tmp_path)
    first = am_message(bot, "firing")
    bot.wait_thread("CALERTS", first)
    repeat = am_message(bot, "firing")  # Alertmanager's repeat_interval: nothing new
    resolved = am_message(bot, "resolved")
    bot.fake.wait_for(lambda: any("resolved at" in c.shown() for c in bot.thread("CALERTS", first)))
    again = am_message(bot, "firing")  # flapping
    bot.fake.wait_for(lambda: any("fired again" in c.shown() for c in bot.thread("CALERTS", first)))
    again2 = am_message(bot, "resolved")
    bot.control()
    assert len(cards(bot)) == 1
    for ts in (repeat, resolved, again, again2):
        assert bot.thread("CALERTS", ts) == []
    notes = [c.shown() for c in bot.thread("CALERTS", first)]
    assert sum("resolved at" in n for n in notes) == 2
    assert sum("fired again" in n for n in notes) == 1


def test_only_alert_sources_and_connection_alerts_are_read(
    start_bot: StartBot, incident: Incident, tmp_path: Path
) -> None:
    bot = start(start_bot, incident, tmp_path)
    am_message(bot, "firing", bot_id="BSOMEBODY")  # a bot not in slack.alert_sources
    bot.send.message(
        "[FIRING:1] KubePodCrashLooping (api-7f9)",
        channel="CALERTS",
        user=None,
        bot_id=ALERTMANAGER,
        subtype="bot_message",
    )
    bot.control()
    assert bot.posts("CALERTS") == []


def test_an_app_alert_that_matches_no_cluster_says_how_to_map_it_once(
    start_bot: StartBot, incident: Incident, tmp_path: Path
) -> None:
    bot = start(start_bot, incident, tmp_path)
    text = "[Triggered on {host:db-other-3}] Postgres connection saturation"
    sent = [
        bot.send.message(
            text,
            channel="CALERTS",
            user=None,
            bot_id="BDDBOT0001",
            bot_profile={"id": "BDDBOT0001", "app_id": DATADOG_APP, "name": "Datadog"},
        )[0]
        for _ in range(2)
    ]
    bot.control()
    [note] = bot.posts("CALERTS")
    assert note.body["thread_ts"] == sent[0]
    assert "alert_labels" in note.shown() and "host=db-other-3" in note.shown()
