"""Worker slots: how many jobs compute at once, apart from how many may wait on a server.

Jobs hold the GIL for milliseconds at a time (libpq's SCRAM, building a report), and every
computing job delays the acks of requests arriving meanwhile, so only a few compute at once.
A job whose wait on a database or on Slack lasts (`waiting()`, after `YIELD_AFTER_S`) computes
nothing meanwhile: it gives its slot up until the wait ends, so a frozen cluster holds a thread,
never a slot another cluster, a paste or an approval needs. Short waits keep the slot, so a
burst of ordinary requests still computes only a few at a time. Threads are cheap; the pool
that runs jobs is sized for the waits.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

_local = threading.local()


class Slots:
    def __init__(self, n: int) -> None:
        self._sem = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self._running: dict[int, float] = {}

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Run a job: take a slot, and note when it started (readiness sees stuck jobs)."""
        key = threading.get_ident()
        with self._lock:
            self._running[key] = time.monotonic()
        self._sem.acquire()
        previous, _local.slots = getattr(_local, "slots", None), self
        try:
            yield
        finally:
            _local.slots = previous
            self._sem.release()
            with self._lock:
                self._running.pop(key, None)

    def stuck(self, after_s: float) -> int:
        """Jobs running for longer than `after_s` (every wait in them is bounded, so such a
        job is stuck)."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for started in self._running.values() if now - started > after_s)


YIELD_AFTER_S = 1.0


class _Yield:
    def __init__(self, slots: Slots) -> None:
        self.slots = slots
        self.lock = threading.Lock()
        self.done = False
        self.released = False

    def fire(self) -> None:
        with self.lock:
            if not self.done:
                self.slots._sem.release()
                self.released = True

    def finish(self) -> bool:
        with self.lock:
            self.done = True
            return self.released


@contextlib.contextmanager
def waiting(yield_after_s: float = YIELD_AFTER_S) -> Iterator[None]:
    """Wrap a wait on a server: if it lasts `yield_after_s`, the job's slot is given up until
    it ends (and taken back before the job computes again). A no-op outside a job."""
    slots: Slots | None = getattr(_local, "slots", None)
    if slots is None:
        yield
        return
    from bot.diagnostics.deadline import WATCHDOG

    _local.slots = None  # nested waits do not release twice
    give = _Yield(slots)
    seq = WATCHDOG.call_at(time.monotonic() + yield_after_s, give.fire)
    try:
        yield
    finally:
        WATCHDOG.cancel(seq)
        if give.finish():
            slots._sem.acquire()
        _local.slots = slots
