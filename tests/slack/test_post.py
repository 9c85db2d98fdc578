"""Web API writes: rate limits retried after Retry-After, failures logged with the reason."""

from __future__ import annotations

import logging

import pytest

from tests.slack.conftest import Incident, StartBot


def test_a_429_is_retried_and_the_report_lands(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    bot.fake.fail_once("chat.postMessage", status=429, retry_after=1)
    bot.fake.fail_once("chat.postMessage", status=503)
    ts, _ = bot.send.message(incident.fatal)
    thread = bot.wait_thread("CINC", ts)
    statuses = [c.answer.get("error") for c in bot.fake.find("chat.postMessage")]
    assert statuses[:2] == ["ratelimited", "fatal"]  # both refused, both retried
    assert thread[0].raw == bot.fake.find("chat.postMessage")[0].raw  # the same post, again
    assert "*prod*" in thread[0].shown()


def test_a_failed_post_is_logged_with_slacks_reason(
    start_bot: StartBot, incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    caplog.set_level(logging.INFO, logger="pgconn.slack")
    bot.fake.error_once("chat.postMessage", "channel_not_found")
    bot.send.message(incident.fatal)
    bot.fake.wait_for(lambda: "channel_not_found" in caplog.text)
    assert "chat.postMessage to CINC failed: channel_not_found" in caplog.text


def test_a_failed_part_is_replaced_by_a_note(start_bot: StartBot, incident: Incident) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    bot.fake.error_once("chat.postMessage", "invalid_blocks", after=1)  # the summary passes
    ts, _ = bot.send.message(incident.fatal)
    note = bot.fake.wait_for(
        lambda: [
            c for c in bot.thread("CINC", ts) if "could not be posted (invalid_blocks)" in c.shown()
        ]
    )
    assert "pgconn diagnose prod" in note[0].shown()
    assert bot.thread("CINC", ts)[0].body["text"].startswith("prod:")
