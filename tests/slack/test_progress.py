"""Progress messages: none for short work, then one post and updates at most every few seconds;
and the expiring maps behind retries and pickers."""

from __future__ import annotations

from typing import Any

from bot.render.blocks import Message, notice
from bot.slack.memory import ExpiringMap
from bot.slack.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        self.calls.append(("post", message.text))
        return "1.0001"

    def update(self, channel: str, ts: str, message: Message) -> None:
        self.calls.append(("update", message.text))


def progress(clock: Clock, poster: Any) -> Progress:
    return Progress(poster, "C1", "1.0", "app.log", 100_000_000, after_s=3, every_s=3, clock=clock)


def test_short_work_shows_nothing() -> None:
    clock, poster = Clock(), Recorder()
    p = progress(clock, poster)
    for done in range(0, 100_000_000, 1_000_000):
        clock.now += 0.02
        p(done)
    assert poster.calls == []
    assert p.finish(notice("done")) is False


def test_long_work_posts_once_then_updates_at_most_every_interval() -> None:
    clock, poster = Clock(), Recorder()
    p = progress(clock, poster)
    for done in range(0, 100_000_000, 1_000_000):  # 100 chunks over 10 s
        clock.now += 0.1
        p(done)
    assert poster.calls[0][0] == "post"
    assert "Scanning app.log… " in poster.calls[0][1]
    updates = [text for kind, text in poster.calls if kind == "update"]
    assert 1 <= len(updates) <= 3  # 7 s after the first post, every 3 s
    assert p.finish(notice("Scanned app.log")) is True
    assert poster.calls[-1] == ("update", "Scanned app.log")


def test_expiring_map() -> None:
    clock = Clock()
    seen: ExpiringMap[bool] = ExpiringMap(ttl=60, max_items=3, clock=clock)
    assert seen.put_new("a", True)
    assert not seen.put_new("a", True)
    clock.now = 61
    assert seen.put_new("a", True)  # forgotten after the ttl
    for key in "bcd":
        seen.put_new(key, True)
    assert seen.get("a") is None  # the oldest went first
    assert seen.pop("d") is True
    assert seen.pop("d") is None
