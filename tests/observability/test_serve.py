"""`pgconn serve` in production shape: the side port, JSON logs with request ids, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot.throwaway import free_port
from tests.slack.conftest import DOWN_DSN
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender


def test_side_port_json_logs_and_graceful_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        f"clusters:\n  down:\n    dsn: '{DOWN_DSN}'\nstate_path: {tmp_path / 'state.sqlite3'}\n"
    )
    fake = FakeSlack().start()
    port, health = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=fake.api_url,
        PGCONN_HEALTH_PORT=str(health),
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
            "--host",
            "127.0.0.1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{health}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"{base}/readyz")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the side port did not come up"
                time.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert "slack: ok" in ready.text and "store: ok" in ready.text
        assert httpx.get(f"{base}/healthz").status_code == 200

        sender = SlackSender(f"http://127.0.0.1:{port}/slack/events")
        assert sender.command("help").status_code == 200
        sender.close()
        metrics = httpx.get(f"{base}/metrics").text
        assert 'pgconn_requests_total{kind="command"} 1.0' in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
        fake.stop()
    assert proc.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    messages = [entry["msg"] for entry in lines]
    assert any("shutting down" in m for m in messages), messages
    assert messages[-1] == "pgconn: stopped"
    assert all({"ts", "level", "logger", "msg"} <= set(entry) for entry in lines)
