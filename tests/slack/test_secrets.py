"""No DSN password, and no token outside the Authorization header, in anything sent or logged."""

from __future__ import annotations

import logging

import pytest

from bot.slack.context import Tuning
from tests.slack.conftest import DOWN_DSN, MONITOR_PASSWORD, Incident, StartBot
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET

DOWN_PASSWORD = "Down-Cluster-Pw-8812"


def test_no_secret_in_anything_posted_or_logged(
    start_bot: StartBot, incident: Incident, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot = start_bot(
        {
            "prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]},
            "down": {"dsn": DOWN_DSN, "channels": ["CDOWN"]},
            # A DSN whose password the server rejects: its error goes into the report's notes.
            "wrongpw": {
                "dsn": incident.monitor_dsn.replace(MONITOR_PASSWORD, "Wrong-Pw-5531"),
                "channels": ["CWRONG"],
            },
        },
        # Every report in full: the paste below comes seconds after `/pgconn prod`.
        tuning=Tuning(workers=1, repeat_window_s=0),
    )
    assert MONITOR_PASSWORD in bot.config.secrets()
    response_url = bot.fake.response_url("list")
    bot.send.command("prod")
    bot.send.command("down", channel="CDOWN", channel_name="down")
    bot.send.command("wrongpw", channel="CWRONG", channel_name="wrong")
    bot.send.command("list", channel="CDOWN", response_url=response_url)
    # A paste that itself quotes a DSN with the password.
    ts, _ = bot.send.message(f"{incident.fatal}\nDSN was {incident.monitor_dsn}")
    for channel in ("CINC", "CDOWN", "CWRONG"):
        bot.fake.wait_for(lambda c=channel: [p for p in bot.posts(c) if "thread_ts" in p.body])
    bot.fake.wait_for(lambda: bot.fake.find("response"))
    bot.wait_thread("CINC", ts)
    assert any(
        "could not connect" in c.shown() or "failed" in c.shown() for c in bot.posts("CWRONG")
    )

    secrets = [MONITOR_PASSWORD, DOWN_PASSWORD, "Wrong-Pw-5531", SIGNING_SECRET, BOT_TOKEN]
    for call in bot.fake.calls:
        for secret in secrets:
            assert secret not in call.raw, (call.method, secret)
            assert secret not in call.path
        headers = dict(call.headers)
        headers.pop("authorization", None)  # where the bot token belongs
        for secret in secrets:
            assert secret not in str(headers)
    for secret in secrets:
        assert secret not in caplog.text
