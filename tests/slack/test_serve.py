"""`pgconn serve`: the real command, started as a process, answering a signed slash command."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests import serve
from tests.slack.conftest import DOWN_DSN
from tests.slack.fake import SIGNING_SECRET, FakeSlack


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "pgconn.yaml"
    path.write_text(f"clusters:\n  down:\n    dsn: '{DOWN_DSN}'\n    channels: [CINC]\n")
    return path


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
    served = serve.start(_config(tmp_path), fake)
    try:
        sender = served.sender()
        assert sender.command("down").status_code == 200
        posts = fake.wait_for(lambda: fake.find("chat.postMessage", channel="CINC"))
        assert "*down*" in posts[0].shown()
        sender.close()
    finally:
        served.stop()
