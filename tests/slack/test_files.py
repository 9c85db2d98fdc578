"""Downloads: only to Slack, with the bot token, sign-in pages and broken gzip handled."""

from __future__ import annotations

import gzip

import pytest

from bot.config import parse
from bot.slack import files
from bot.slack.app import web_client
from tests.slack.fake import BOT_TOKEN, FakeSlack


def test_the_token_goes_only_to_slack_or_the_configured_api_host() -> None:
    api = "http://127.0.0.1:8000/api/"
    assert files.trusted("https://files.slack.com/files-pri/T1-F1/download/a.log", api)
    assert files.trusted("https://files.slack-gov.com/files-pri/x", api)
    assert files.trusted("http://127.0.0.1:8000/files/a", api)
    assert not files.trusted("http://files.slack.com/x", api)  # not over TLS
    assert not files.trusted("https://files.slack.com.evil.test/x", api)
    assert not files.trusted("https://evil.test/?files.slack.com", api)
    assert not files.trusted("http://127.0.0.1:9999/files/a", api.replace("http:", "https:"))


def test_what_is_scanned() -> None:
    assert files.wanted({"name": "app.LOG"})
    assert files.wanted({"name": "x.txt"})
    assert files.wanted({"name": "x.log.gz"})
    assert files.wanted({"name": "Untitled", "mode": "snippet"})
    assert not files.wanted({"name": "cat.png", "filetype": "png"})


def _scan(
    fake: FakeSlack,
    name: str,
    content: bytes,
    token: str = BOT_TOKEN,
    content_type: str = "application/octet-stream",
) -> list[object]:
    url = fake.add_file(name, content, content_type)
    config = parse(
        {
            "clusters": {"x": {"dsn": "host=x"}},
            "slack": {"bot_token": token, "api_url": fake.api_url},
        },
        env={},
    )
    return list(
        files.scan(
            {"name": name, "url_private_download": url},
            web_client(config),
            token,
            fake.api_url,
            10_000_000,
        )
    )


def test_a_sign_in_page_means_missing_scope(fake: FakeSlack) -> None:
    with pytest.raises(files.FileRefused, match="files:read"):
        _scan(fake, "a.log", b"x", token="xoxb-not-the-right-one")


def test_multi_member_and_truncated_gzip(fake: FakeSlack) -> None:
    line = b'FATAL:  too many connections for role "app"\n'
    two = gzip.compress(b"noise\n" * 1000) + gzip.compress(line)
    assert len(_scan(fake, "two.gz", two)) == 1
    truncated = gzip.compress(line + b"noise\n" * 100_000)[:-200]
    assert len(_scan(fake, "cut.gz", truncated)) == 1  # what could be read is scanned


def test_partial_file_objects_are_completed_with_files_info(fake: FakeSlack) -> None:
    config = parse(
        {
            "clusters": {"x": {"dsn": "host=x"}},
            "slack": {"bot_token": BOT_TOKEN, "api_url": fake.api_url},
        },
        env={},
    )
    client = web_client(config)
    fake.file_info["F1"] = {"id": "F1", "url_private_download": "https://files.slack.com/F1"}
    assert files.resolve_url({"id": "F1", "file_access": "check_file_info"}, client) == (
        "https://files.slack.com/F1"
    )
    with pytest.raises(files.FileRefused, match="would not describe the file"):
        files.resolve_url({"id": "F2", "name": "gone.log"}, client)
