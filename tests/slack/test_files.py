"""Downloads: only to Slack, with the bot token, sign-in pages and broken gzip handled."""

from __future__ import annotations

import gzip

import pytest

from bot.config import parse
from bot.slack import files
from bot.slack.app import web_client
from tests.slack.conftest import Incident, StartBot
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
    # The exact origin: another port of the API host, or another Slack host, is not it.
    assert not files.trusted("http://127.0.0.1:8001/files/a", api)
    assert not files.trusted("http://127.0.0.1/files/a", api)
    assert not files.trusted("https://files.slack.com:8443/x", api)
    assert not files.trusted("https://evil.slack.com/x", api)
    assert not files.trusted("http://127.0.0.1:notaport/x", api)


def test_the_token_never_reaches_another_port_of_the_api_host(
    start_bot: StartBot, incident: Incident
) -> None:
    bot = start_bot({"prod": {"dsn": incident.monitor_dsn, "channels": ["CINC"]}})
    elsewhere = FakeSlack().start()  # the same host, another port
    try:
        url = elsewhere.add_file("pg.log", incident.fatal.encode())
        assert url.startswith("http://127.0.0.1:") and bot.fake.url not in url
        ts, _ = bot.send.message(
            "",
            subtype="file_share",
            files=[{"id": "FX", "name": "pg.log", "size": 10, "url_private_download": url}],
        )
        [refusal] = bot.fake.wait_for(lambda: bot.thread("CINC", ts))
        assert "did not send its token there" in refusal.shown()
        assert elsewhere.calls == []
    finally:
        elsewhere.stop()


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
