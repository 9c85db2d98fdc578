"""Warnings through Slack's Web API (the fake on loopback): the notifier, and `pgconn serve`
running the scheduler beside the bot and stopping it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from slack_sdk import WebClient

from bot.slack.notifier import SlackNotifier
from bot.slack.post import Poster
from bot.store import open_store
from bot.throwaway import free_port
from bot.warnings.record import from_state
from tests import pg
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack
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
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--config",
            str(config),
            "--port",
            str(port),
            "--health-port",
            "0",
            "--host",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        posts = fake.wait_for(
            lambda: [
                c for c in fake.find("chat.postMessage", channel=CHANNEL) if role in c.shown()
            ],
            timeout=60,
        )
        assert len(posts) == 1
        deadline = time.monotonic() + 30
        while not _healthy(port):  # the bot itself is up beside the scheduler
            assert time.monotonic() < deadline, "pgconn serve did not come up"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        fake.stop()
    assert proc.returncode in (0, 130), out
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


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz").text == "ok"
    except httpx.TransportError:
        return False
