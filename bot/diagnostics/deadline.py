"""Client-side deadlines for database work: connect, query, cancel, then abandon.

The server's statement_timeout cannot fire on a frozen server (a stopped postmaster, a storage
hang), and TCP keepalives do not help either: the kernel still answers for a stopped process.
So every operation pgconn runs on a connection is watched from outside: at the deadline the
watchdog asks the server to cancel (bounded), and if the call is still blocked `grace_s` later,
it shuts the socket down, which makes libpq's blocked read return at once. The caller gets
DeadlineError and the connection is broken (a kept one is dropped and reopened later).

One watchdog thread serves every connection; expiries (rare) run on their own short thread so a
slow cancel never delays another deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from bot.errors import DeadlineError

log = logging.getLogger("pgconn.deadline")

QUERY_S = 6.0  # after the diagnosis batch's own statement_timeout (5 s), so the server goes first
GRACE_S = 1.5  # for the cancel request before the socket is shut


class _Watch:
    def __init__(self, conn: psycopg.Connection[Any], grace_s: float) -> None:
        self.conn = conn
        self.grace_s = grace_s
        self.lock = threading.Lock()
        self.done = False
        self.fired = False

    def expire(self) -> None:
        with self.lock:
            if self.done:
                return
            self.fired = True
        with contextlib.suppress(Exception):
            self.conn.cancel_safe(timeout=self.grace_s)
        # The cancel may have worked (a slow but live server): give the call a moment to return.
        end = time.monotonic() + 0.2
        while time.monotonic() < end:
            with self.lock:
                if self.done:
                    return
            time.sleep(0.02)
        with self.lock:
            if self.done:  # the fd is still ours only while the call has not returned
                return
            abandon(self.conn)

    def finish(self) -> bool:
        with self.lock:
            self.done = True
            return self.fired


def abandon(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket so a call blocked on it returns now."""
    with contextlib.suppress(OSError, psycopg.Error):
        sock = socket.socket(fileno=os.dup(conn.pgconn.socket))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()
        log.warning("abandoned a connection whose server did not answer in time")


class Watchdog:
    """One thread, a heap of deadlines."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._cancelled: set[int] = set()

    def call_at(self, when: float, fn: Callable[[], None]) -> int:
        with self._cond:
            seq = next(self._seq)
            heapq.heappush(self._heap, (when, seq, fn))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="pgconn-watchdog", daemon=True
                )
                self._thread.start()
            if self._heap[0][1] == seq:  # earlier than what the thread sleeps until
                self._cond.notify()
            return seq

    def cancel(self, seq: int) -> None:
        with self._cond:
            self._cancelled.add(seq)

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][1] in self._cancelled:
                        self._cancelled.discard(heapq.heappop(self._heap)[1])
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        fn = heapq.heappop(self._heap)[2]
                        break
                    self._cond.wait(self._heap[0][0] - now if self._heap else None)
            threading.Thread(target=fn, name="pgconn-deadline", daemon=True).start()


WATCHDOG = Watchdog()


@contextlib.contextmanager
def bounded(
    conn: psycopg.Connection[Any],
    seconds: float = QUERY_S,
    *,
    what: str = "the server",
    grace_s: float = GRACE_S,
) -> Iterator[None]:
    """Run the block's work on `conn` within `seconds`; DeadlineError when the watchdog had to
    step in (whatever the blocked call raised instead)."""
    watch = _Watch(conn, grace_s)
    seq = WATCHDOG.call_at(time.monotonic() + seconds, watch.expire)
    try:
        yield
    except Exception:
        if watch.finish():
            raise DeadlineError(seconds, what) from None
        raise
    finally:
        WATCHDOG.cancel(seq)
        watch.finish()
