"""`pgconn serve` in production shape: the side port, JSON logs, graceful SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path

from tests import serve
from tests.slack.conftest import DOWN_DSN
from tests.slack.fake import FakeSlack


def test_side_port_json_logs_and_graceful_sigterm(tmp_path: Path) -> None:
    config = tmp_path / "pgconn.yaml"
    config.write_text(
        f"clusters:\n  down:\n    dsn: '{DOWN_DSN}'\nstate_path: {tmp_path / 'state.sqlite3'}\n"
    )
    fake = FakeSlack().start()
    served = serve.start(config, fake)
    try:
        ready = served.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert "slack: ok" in ready.text and "store: ok" in ready.text
        assert served.get("/healthz").status_code == 200

        sender = served.sender()
        assert sender.command("help").status_code == 200
        sender.close()
        metrics = served.get("/metrics").text
        assert 'pgconn_requests_total{kind="command"} 1.0' in metrics
    finally:
        out = served.stop()
        fake.stop()
    assert served.proc.returncode == 0, out
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    messages = [entry["msg"] for entry in lines]
    assert any("shutting down" in m for m in messages), messages
    assert messages[-1] == "pgconn: stopped"
    assert all({"ts", "level", "logger", "msg"} <= set(entry) for entry in lines)


def test_slack_readiness_asks_slack_again_after_a_while() -> None:
    from bot.config import parse
    from bot.slack.app import SlackReachable
    from tests.slack.fake import BOT_TOKEN

    fake = FakeSlack().start()
    config = parse(
        {"clusters": {"x": {"dsn": "host=x"}}, "slack": {"bot_token": BOT_TOKEN}},
        env={"SLACK_API_URL": fake.api_url},
    )
    check = SlackReachable(config, every_s=0)
    try:
        assert check()
        assert fake.find("auth.test")
    finally:
        fake.stop()
    assert not check()  # Slack gone: not ready
