"""A signed request replayed within the signature's five minutes is answered once, on one
replica or across replicas sharing a PostgreSQL state store."""

from __future__ import annotations

import itertools
import time
from urllib.parse import urlencode

import pytest

from bot.config import parse
from bot.slack.app import build_app
from bot.slack.context import Tuning
from bot.slack.http import EVENTS_PATH, BoltHTTPServer
from bot.throwaway import ThrowawayCluster
from tests import pg
from tests.slack.conftest import DOWN_DSN, Bot, StartBot, playbooks
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender

CLUSTERS = {"down": {"dsn": DOWN_DSN, "channels": ["CDOWN"]}}
FORM = "application/x-www-form-urlencoded"


def _command_body(trigger: str) -> str:
    return urlencode(
        {
            "team_id": "T0001",
            "channel_id": "CDOWN",
            "channel_name": "down",
            "user_id": "UALICE",
            "command": "/pgconn",
            "text": "down",
            "response_url": "http://127.0.0.1:9/none",
            "trigger_id": trigger,
        }
    )


def _summaries(fake: FakeSlack) -> int:
    return len(
        [c for c in fake.find("chat.postMessage", channel="CDOWN") if "thread_ts" not in c.body]
    )


def test_a_replayed_command_is_answered_once(start_bot: StartBot) -> None:
    bot = start_bot(CLUSTERS)
    body, ts = _command_body("trigger.replayed"), time.time()
    for _ in range(3):
        assert bot.send.post(body, FORM, timestamp=ts).status_code == 200
    # A genuine second command (a new trigger) is answered.
    assert bot.send.post(_command_body("trigger.new"), FORM).status_code == 200
    bot.fake.wait_for(lambda: _summaries(bot.fake) >= 2)
    bot.control()  # one job thread: everything accepted before it has been answered
    assert _summaries(bot.fake) == 2


@pytest.fixture
def state_dsn(server15: ThrowawayCluster) -> str:
    name = pg.unique("pgconn_state")
    pg.create_database(server15, name)
    return server15.dsn(dbname=name)


def test_a_replay_sent_to_another_replica_is_answered_once(fake: FakeSlack, state_dsn: str) -> None:
    config = parse(
        {
            "clusters": CLUSTERS,
            "state_dsn": state_dsn,
            "slack": {
                "bot_token": BOT_TOKEN,
                "signing_secret": SIGNING_SECRET,
                "api_url": fake.api_url,
            },
        },
        env={},
    )
    bots: list[Bot] = []
    try:
        for _ in range(2):
            app, ctx = build_app(config, playbooks(), Tuning(workers=1, job_threads=1))
            server = BoltHTTPServer(app, "127.0.0.1", 0).start()
            sender = SlackSender(f"http://127.0.0.1:{server.port}{EVENTS_PATH}")
            bots.append(Bot(fake, sender, ctx, server))
        a, b = bots
        b.send._ids = itertools.count(10_000)  # its own event ids: they are shared state now
        body, ts = _command_body("trigger.across"), time.time()
        assert a.send.post(body, FORM, timestamp=ts).status_code == 200
        assert b.send.post(body, FORM, timestamp=ts).status_code == 200
        fake.wait_for(lambda: _summaries(fake) >= 1)
        a.control("CCTRLA")
        b.control("CCTRLB")
        assert _summaries(fake) == 1
    finally:
        for bot in bots:
            bot.server.stop()
            bot.ctx.close()
            bot.send.close()
