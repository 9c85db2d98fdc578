"""Structured logs: JSON lines when stderr is not a terminal, readable text when it is.

Every record carries the request id of the Slack request (or scheduler round) it belongs to,
and every record is redacted: DSN passwords, Slack tokens and the configured secrets never
reach a log, whatever a library put in its message.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from bot.redact import redact_text

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


@contextmanager
def request_context(request_id: str | None = None) -> Iterator[str]:
    """Tag every log record inside with a request id (a new one when none is given)."""
    rid = request_id or uuid.uuid4().hex[:12]
    token = REQUEST_ID.set(rid)
    try:
        yield rid
    finally:
        REQUEST_ID.reset(token)


class RedactingFilter(logging.Filter):
    """Renders the message once, masks secrets in it and in the traceback, and attaches the
    request id."""

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = list(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = redact_text(
                logging.Formatter().formatException(record.exc_info), self.secrets
            )
            record.exc_info = None
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            entry["request_id"] = rid
        if record.exc_text:
            entry["exc"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{text} [{rid}]" if rid else text


def setup(
    secrets: Sequence[str] = (),
    *,
    level: int = logging.INFO,
    json_lines: bool | None = None,
    stream: object = None,
) -> logging.Handler:
    """Configure the root logger once for `pgconn serve`; returns the handler."""
    out = stream or sys.stderr
    as_json = (not getattr(out, "isatty", lambda: False)()) if json_lines is None else json_lines
    handler = logging.StreamHandler(out)  # type: ignore[arg-type]
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
