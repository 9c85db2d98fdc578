"""The bot's real HTTP endpoint against a fake Slack, and a real incident on a real server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest

from bot.config import Config, parse
from bot.playbooks import PlaybookSet, load_playbooks
from bot.slack.app import build_app
from bot.slack.context import Context, Tuning
from bot.slack.http import EVENTS_PATH, BoltHTTPServer
from bot.throwaway import ThrowawayCluster
from tests import pg
from tests.slack.fake import BOT_TOKEN, BOT_USER, SIGNING_SECRET, Call, FakeSlack, SlackSender

MONITOR_PASSWORD = "Recognisable-Pw-4417"
# A cluster nothing listens for: its diagnosis fails fast (and its DSN holds a password too).
DOWN_DSN = "host=127.0.0.1 port=9 user=pgconn password=Down-Cluster-Pw-8812 connect_timeout=2"


@cache
def playbooks() -> PlaybookSet:
    return load_playbooks()


@dataclass
class Bot:
    fake: FakeSlack
    send: SlackSender
    ctx: Context
    server: BoltHTTPServer

    @property
    def config(self) -> Config:
        return self.ctx.config

    def posts(self, channel: str | None = None) -> list[Call]:
        where = {"channel": channel} if channel else {}
        return self.fake.find("chat.postMessage", **where)

    def thread(self, channel: str, thread_ts: str) -> list[Call]:
        return [c for c in self.posts(channel) if c.body.get("thread_ts") == thread_ts]

    def wait_thread(self, channel: str, thread_ts: str, n: int = 2) -> list[Call]:
        """At least `n` messages in the thread (a report: its summary and one part)."""
        return self.fake.wait_for(
            lambda: (t := self.thread(channel, thread_ts)) and len(t) >= n and t
        )

    def control(self, channel: str = "CCTRL") -> None:
        """Send a mention that always gets an answer and wait for it. With one worker, jobs run
        in order: whatever earlier requests were going to post has been posted by then."""
        ts, _ = self.send.message(f"<@{BOT_USER}> hello?", channel=channel)
        self.send.event(
            {
                "type": "app_mention",
                "channel": channel,
                "user": "UALICE",
                "text": f"<@{BOT_USER}> hello?",
                "ts": ts,
            }
        )
        self.fake.wait_for(lambda: self.thread(channel, ts))


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    slack = FakeSlack().start()
    yield slack
    slack.stop()


StartBot = Callable[..., Bot]


@pytest.fixture
def start_bot(fake: FakeSlack) -> Iterator[StartBot]:
    """Start the bot (one worker, so jobs run in the order they came) for these clusters."""
    started: list[Bot] = []

    def start(
        clusters: dict[str, Any],
        *,
        tuning: Tuning | None = None,
        max_file_bytes: int | None = None,
        top: dict[str, Any] | None = None,
        alert_sources: list[str] | None = None,
    ) -> Bot:
        slack: dict[str, Any] = {
            "bot_token": BOT_TOKEN,
            "signing_secret": SIGNING_SECRET,
            "api_url": fake.api_url,
        }
        if max_file_bytes is not None:
            slack["max_file_bytes"] = max_file_bytes
        if alert_sources:
            slack["alert_sources"] = alert_sources
        config = parse({"clusters": clusters, "slack": slack, **(top or {})}, env={})
        app, ctx = build_app(config, playbooks(), tuning or Tuning(workers=1, job_threads=1))
        server = BoltHTTPServer(app, "127.0.0.1", 0).start()
        bot = Bot(fake, SlackSender(f"http://127.0.0.1:{server.port}{EVENTS_PATH}"), ctx, server)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.server.stop()
        bot.ctx.close()
        bot.send.close()


@dataclass
class Incident:
    """A role really at its CONNECTION LIMIT, and the FATAL its next connection got."""

    cluster: ThrowawayCluster
    monitor_dsn: str
    role: str
    fatal: str


@pytest.fixture
def incident(cluster: ThrowawayCluster, holder: pg.Holder) -> Incident:
    monitor = pg.unique("pgconn_mon")
    pg.create_role(cluster, monitor, password=MONITOR_PASSWORD, extra="IN ROLE pg_monitor")
    role = pg.unique("app_user")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password, app="checkout")
    fatal = holder.refused(role, password)
    assert "too many connections" in fatal
    return Incident(cluster, cluster.dsn(user=monitor, password=MONITOR_PASSWORD), role, fatal)


def buttons(call: Call) -> list[dict[str, Any]]:
    """A message's buttons: section accessories and those of actions blocks."""
    found = []
    for block in call.blocks:
        accessory = block.get("accessory")
        if isinstance(accessory, dict) and accessory.get("type") == "button":
            found.append(accessory)
        if block.get("type") == "actions":
            found.extend(e for e in block["elements"] if e.get("type") == "button")
    return found


def button_values(calls: list[Call]) -> list[dict[str, Any]]:
    return [json.loads(b["value"]) for c in calls for b in buttons(c)]
