"""`pgconn serve`: the real command, started as a process, answering a signed slash command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.cli import main
from bot.throwaway import free_port
from tests.slack.conftest import DOWN_DSN
from tests.slack.fake import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "pgconn.yaml"
    path.write_text(f"clusters:\n  down:\n    dsn: '{DOWN_DSN}'\n    channels: [CINC]\n")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return {**env, **extra}


def test_missing_tokens_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main(["serve", "--config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "SLACK_BOT_TOKEN" in err
    assert "SLACK_SIGNING_SECRET" in err
    assert "SLACK_APP_TOKEN" in err


def test_a_bad_token_is_a_clear_startup_error(
    tmp_path: Path,
    fake: FakeSlack,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong-0000")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    assert main(["serve", "--config", str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "did not accept the bot token" in err
    assert "xoxb-wrong-0000" not in err


def test_serve_in_http_mode_answers_slack(tmp_path: Path, fake: FakeSlack) -> None:
    port = free_port()
    env = _env(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=fake.api_url
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "serve",
            "--config",
            str(_config(tmp_path)),
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
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(base + "/healthz").text == "ok":
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "pgconn serve did not come up"
            time.sleep(0.1)
        sender = SlackSender(base + "/slack/events")
        assert sender.command("down").status_code == 200
        posts = fake.wait_for(lambda: fake.find("chat.postMessage", channel="CINC"))
        assert "*down*" in posts[0].shown()
        sender.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
