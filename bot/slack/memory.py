"""Small in-process maps whose entries expire: event ids already answered, open pickers.

They live in one process's memory. With several replicas, event ids go to the PostgreSQL state
store instead (`bot.slack.app.AnswerOnce`), so a retry reaching another replica is not answered
again; the map here is only the fallback while that store is down. Pickers stay per process: one
answered on another replica says it has expired.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class ExpiringMap(Generic[V]):
    """A thread-safe dict whose entries vanish `ttl` seconds after they were put, holding at
    most `max_items` (the oldest go first)."""

    def __init__(
        self, ttl: float, max_items: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max = max_items
        self._clock = clock
        self._items: dict[str, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def put_new(self, key: str, value: V) -> bool:
        """Store `value` unless `key` is already there; True when stored."""
        now = self._clock()
        with self._lock:
            self._purge(now)
            if key in self._items:
                return False
            self._items[key] = (now + self._ttl, value)
            while len(self._items) > self._max:
                del self._items[next(iter(self._items))]
            return True

    def get(self, key: str) -> V | None:
        with self._lock:
            self._purge(self._clock())
            item = self._items.get(key)
            return item[1] if item else None

    def pop(self, key: str) -> V | None:
        """Take the entry out (only one caller gets it)."""
        with self._lock:
            self._purge(self._clock())
            item = self._items.pop(key, None)
            return item[1] if item else None

    def _purge(self, now: float) -> None:
        # Insertion order is expiry order (one ttl for all), so the expired ones lead.
        while self._items:
            key = next(iter(self._items))
            if self._items[key][0] > now:
                break
            del self._items[key]
