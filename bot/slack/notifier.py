"""The core's Notifier over Slack's Web API: `chat.postMessage` (in a thread when asked) and
`chat.update`, through the adapter's `Poster` (redaction, retries on rate limits and transient
errors, failures logged with Slack's reason and raised as PostError)."""

from __future__ import annotations

from bot.notify import Notice
from bot.render.blocks import Message
from bot.slack.post import Poster


def _message(notice: Notice) -> Message:
    return Message(text=notice.text, blocks=list(notice.blocks))


class SlackNotifier:
    """What the warnings scheduler posts with in `pgconn serve`."""

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

    def post(self, channel: str, notice: Notice, *, thread_ts: str | None = None) -> str | None:
        return self.poster.post(channel, _message(notice), thread_ts) or None

    def update(self, channel: str, ts: str, notice: Notice) -> None:
        self.poster.update(channel, ts, _message(notice))
