from __future__ import annotations

import io
import json
import logging

from bot.observability import logs


def _capture(json_lines: bool, secrets=("s3cr3t-value",)):
    stream = io.StringIO()
    handler = logs.setup(secrets, json_lines=json_lines, stream=stream)
    return stream, handler


def test_json_lines_carry_request_id_and_hide_secrets():
    stream, handler = _capture(True)
    log = logging.getLogger("pgconn.test")
    try:
        with logs.request_context("req-123"):
            log.info("connecting with %s", "host=db password=hunter2 user=app")
            log.warning("token xoxb-1-2-abc and s3cr3t-value leaked?")
        try:
            raise RuntimeError("postgresql://u:pw-in-trace@db/x failed")
        except RuntimeError:
            log.exception("boom")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [entry["level"] for entry in lines] == ["info", "warning", "error"]
    assert lines[0]["request_id"] == "req-123"
    assert "request_id" not in lines[2]
    text = stream.getvalue()
    for secret in ("hunter2", "xoxb-1-2-abc", "s3cr3t-value", "pw-in-trace"):
        assert secret not in text
    assert "RuntimeError" in lines[2]["exc"]


def test_text_format_on_terminals():
    stream, handler = _capture(False)
    try:
        with logs.request_context() as rid:
            logging.getLogger("pgconn.test").info("hello")
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith(f"hello [{rid}]")
    assert "INFO pgconn.test" in line


def test_work_after_the_ack_logs_under_the_request_id():
    from slack_sdk import WebClient

    from bot.config import Config
    from bot.playbooks import load_playbooks
    from bot.slack.context import Context

    stream, handler = _capture(True)
    ctx = Context(Config(clusters={}), load_playbooks(), WebClient(token="xoxb-test"))
    try:
        with logs.request_context("Ev0123"):
            future = ctx.submit("test", lambda: logging.getLogger("pgconn.job").info("working"))
        future.result(timeout=10)
    finally:
        ctx.close()
        logging.getLogger().removeHandler(handler)
    [entry] = [json.loads(x) for x in stream.getvalue().splitlines() if "working" in x]
    assert entry["request_id"] == "Ev0123"
