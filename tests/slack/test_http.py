"""The endpoint as Slack reaches it: signatures, freshness, retries, concurrency, health."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.slack.conftest import DOWN_DSN, StartBot
from tests.slack.fake import SIGNING_SECRET, SlackSender, signature

CLUSTERS = {"down": {"dsn": DOWN_DSN}}


def test_signed_url_verification_is_answered(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"})
    response = bot.send.post(body, "application/json")
    assert response.status_code == 200
    assert response.json() == {"challenge": "c-123"}


def test_unsigned_badly_signed_and_stale_requests_are_rejected(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)
    assert bot.send.command("help", signed=False).status_code == 401
    forged = SlackSender(bot.send.url, secret="not-the-signing-secret")
    assert forged.command("help").status_code == 401
    forged.close()
    stale = time.time() - 301  # Slack's window is five minutes
    assert bot.send.command("help", timestamp=stale).status_code == 401
    assert bot.send.command("help", timestamp=time.time() - 240).status_code == 200
    # A body changed after signing does not verify either.
    ts = str(int(time.time()))
    sig = signature(SIGNING_SECRET, ts, "text=help")
    tampered = httpx.post(
        bot.send.url,
        content=b"text=list",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": sig,
        },
    )
    assert tampered.status_code == 401
    assert bot.fake.find("chat.postMessage") == []


def test_concurrent_requests_are_served_in_parallel(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)
    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(lambda _: bot.send.command("help").status_code, range(40)))
    assert codes == [200] * 40


def test_health_and_unknown_paths(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)
    base = bot.send.url.removesuffix("/slack/events")
    assert httpx.get(base + "/healthz").text == "ok"
    assert httpx.post(base + "/elsewhere", content=b"x").status_code == 404
