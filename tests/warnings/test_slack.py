"""Warnings through Slack's Web API (the fake on loopback): the notifier, and `pgconn serve`
running the scheduler beside the bot and stopping it cleanly."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from slack_sdk import WebClient

from bot.slack.notifier import SlackNotifier
from bot.slack.post import Poster
from bot.store import open_store
from bot.warnings.record import from_state
from tests import pg, serve
from tests.slack.fake import BOT_TOKEN, FakeSlack
from tests.warnings.helpers import CHANNEL, close_sessions


def test_warning_updates_and_recovery_through_the_web_api(cluster, holder, world):
    role = pg.unique("slack")
    password = pg.create_role(cluster, role, limit=4)
    fake = FakeSlack().start()
    try:
        client = WebClient(token=BOT_TOKEN, base_url=fake.api_url)
        notifier = SlackNotifier(Poster(client, [cluster.superuser_password]))
        w = world({"main": cluster.dsn()}, sent=notifier)  # type: ignore[arg-type]
        for _ in range(4):
            holder.open(1, role, password, app="api")
            w.round()
        close_sessions(holder)
        w.round()

        top = [
            c
            for c in fake.find("chat.postMessage", channel=CHANNEL)
            if role in c.shown() and not c.body.get("thread_ts")
        ]
        assert len(top) == 1
        ts = top[0].answer["ts"]
        assert "3/4 (75%)" not in top[0].body["text"]  # 75 % is below the 80 % threshold
        assert "4/4 (100%)" in top[0].body["text"]  # 4/4 crossed both lines at once
        assert any(b["type"] == "section" for b in top[0].blocks)
        thread = [
            c
            for c in fake.find("chat.postMessage", channel=CHANNEL)
            if c.body.get("thread_ts") == ts
        ]
        assert [c.body["text"].split(":")[1] for c in thread] == ["white_check_mark"]
        updates = fake.find("chat.update", channel=CHANNEL, ts=ts)
        assert updates
        assert "*Recovered*" in updates[-1].body["text"]
        for call in fake.calls:
            assert cluster.superuser_password not in call.raw
    finally:
        fake.stop()


def test_serve_runs_the_scheduler_and_stops_it_gracefully(cluster, holder, tmp_path: Path):
    role = pg.unique("served")
    password = pg.create_role(cluster, role, limit=2)
    holder.open(2, role, password, app="worker")
    state = tmp_path / "state.sqlite3"
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        "clusters:\n"
        "  main:\n"
        f'    dsn: "{cluster.dsn()}"\n'
        f"    alert_channel: {CHANNEL}\n"
        "warnings:\n"
        "  interval_seconds: 5\n"
        "  holder: serve-test\n"
        f"state_path: {state}\n"
    )
    fake = FakeSlack().start()
    served = serve.start(config, fake)
    try:
        posts = fake.wait_for(
            lambda: [
                c for c in fake.find("chat.postMessage", channel=CHANNEL) if role in c.shown()
            ],
            timeout=60,
        )
        assert len(posts) == 1
    finally:
        out = served.stop(signal.SIGINT)
        fake.stop()
    assert served.proc.returncode in (0, 130), out
    assert cluster.superuser_password not in out

    store = open_store(state)
    try:
        record = from_state(store.get_alert("main", "role", role))  # type: ignore[arg-type]
        assert record is not None
        assert record.message_ts == posts[0].answer["ts"]
        # Stopped gracefully: the lease was handed back, another replica can take it now.
        assert store.acquire_lease("warnings", "next-replica", now=time.time(), ttl_s=10)
    finally:
        store.close()
    assert json.loads(json.dumps(posts[0].blocks))  # Block Kit made it through as JSON
