"""A long Retry-After from Slack is not slept through in a job: the write fails at once and
is reported, and the next diagnosis is posted without waiting behind it."""

from __future__ import annotations

import pytest

from tests.slack.conftest import DOWN_DSN, StartBot

CLUSTERS = {
    "down": {"dsn": DOWN_DSN, "channels": ["CDOWN"]},
    "other": {"dsn": DOWN_DSN, "channels": ["COTHER"]},
}


@pytest.mark.timeout(60)
def test_a_retry_after_of_two_minutes_does_not_stall_reports(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)  # one job thread: a stalled job would stall everything behind it
    bot.fake.fail_once("chat.postMessage", 429, retry_after=120)
    response_url = bot.fake.response_url("limited")
    bot.send.command("down", channel="CDOWN", channel_name="down", response_url=response_url)
    bot.send.command("other", channel="COTHER", channel_name="other")
    # Well before the 120 s Slack asked for: the next report is in its channel.
    bot.fake.wait_for(lambda: len(bot.posts("COTHER")) >= 2, timeout=20)
    [told] = bot.fake.wait_for(
        lambda: [c for c in bot.fake.find("response") if c.path.endswith("/limited")], timeout=20
    )
    assert "ratelimited" in told.shown()


@pytest.mark.timeout(60)
def test_a_short_retry_after_is_still_waited_out(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)
    bot.fake.fail_once("chat.postMessage", 429, retry_after=1)
    bot.send.command("down", channel="CDOWN", channel_name="down")
    posts = bot.fake.wait_for(lambda: len(bot.posts("CDOWN")) >= 2 and bot.posts("CDOWN"))
    limited = [c for c in bot.fake.find("chat.postMessage") if c.answer.get("error")]
    assert len(limited) == 1 and posts
