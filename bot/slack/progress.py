"""A "scanning… N%" thread message for long work, updated at most every few seconds.

Nothing is posted for work that ends before `after_s`; the first call after that posts the
message, later calls update it (chat.update) no more often than `every_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.render.blocks import Message, progress_message
from bot.slack.post import Poster, PostError


class Progress:
    def __init__(
        self,
        poster: Poster,
        channel: str,
        thread_ts: str,
        label: str,
        total: int | None,
        *,
        after_s: float,
        every_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.poster = poster
        self.channel = channel
        self.thread_ts = thread_ts
        self.label = label
        self.total = total
        self.after_s = after_s
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.ts: str | None = None
        self.failed = False

    def __call__(self, done: int) -> None:
        now = self.clock()
        if self.failed or now - self.started < self.after_s:
            return
        if self.ts is not None and now - self.last < self.every_s:
            return
        self.last = now
        message = progress_message(self.label, done, self.total)
        try:
            if self.ts is None:
                self.ts = self.poster.post(self.channel, message, self.thread_ts)
            else:
                self.poster.update(self.channel, self.ts, message)
        except PostError:
            self.failed = True  # logged by the poster; the scan itself goes on

    def finish(self, message: Message) -> bool:
        """Replace the progress message with `message`; False when none was shown."""
        if self.ts is None:
            return False
        try:
            self.poster.update(self.channel, self.ts, message)
        except PostError:
            return False
        return True
