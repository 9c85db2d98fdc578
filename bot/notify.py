"""How the core speaks without knowing Slack: a small notifier interface.

The scheduler (warnings) and remediation post and update messages through a Notifier; the Slack
adapter implements it with the Web API, the CLI with the terminal, tests with a recorder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Notice:
    """A message: plain text (the notification and fallback) and optional Block Kit blocks."""

    text: str
    blocks: tuple[dict[str, Any], ...] = field(default=())


class Notifier(Protocol):
    def post(self, channel: str, notice: Notice, *, thread_ts: str | None = None) -> str | None:
        """Post; returns the message id (Slack `ts`) to update or thread under, if any."""

    def update(self, channel: str, ts: str, notice: Notice) -> None:
        """Replace a message posted earlier."""


class PrintNotifier:
    """The terminal: each notice printed once, updates printed as new lines."""

    def __init__(self, write: Any = print) -> None:
        self._write = write
        self._count = 0

    def post(self, channel: str, notice: Notice, *, thread_ts: str | None = None) -> str | None:
        self._count += 1
        self._write(f"[{channel}] {notice.text}")
        return str(self._count)

    def update(self, channel: str, ts: str, notice: Notice) -> None:
        self._write(f"[{channel}] (update) {notice.text}")
