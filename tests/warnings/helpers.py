"""What the warnings tests share: a recording Notifier, a hand-driven clock, configs."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Config, parse
from bot.notify import Notice
from tests import pg

CHANNEL = "CALERTS"


@dataclass
class Sent:
    kind: str  # "post" or "update"
    channel: str
    ts: str
    notice: Notice
    thread_ts: str | None = None

    @property
    def text(self) -> str:
        return self.notice.text

    def shown(self) -> str:
        """Everything a person would read: the text and every block."""
        return repr((self.notice.text, self.notice.blocks))


class RecordingNotifier:
    """Records every post and update; `on_post` lets a test look around at the moment a
    message goes out."""

    def __init__(self, on_post: Callable[[Sent], None] | None = None) -> None:
        self.sent: list[Sent] = []
        self.on_post = on_post
        self._ts = itertools.count(1)
        self._lock = threading.Lock()

    def post(self, channel: str, notice: Notice, *, thread_ts: str | None = None) -> str | None:
        with self._lock:
            sent = Sent("post", channel, f"{next(self._ts)}.000100", notice, thread_ts)
            self.sent.append(sent)
        if self.on_post:
            self.on_post(sent)
        return sent.ts

    def update(self, channel: str, ts: str, notice: Notice) -> None:
        with self._lock:
            self.sent.append(Sent("update", channel, ts, notice))

    # -- what happened, about one entity (its name appears in everything said about it)

    def top(self, name: str = "") -> list[Sent]:
        return [s for s in self.sent if s.kind == "post" and s.thread_ts is None and name in s.text]

    def replies(self, ts: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "post" and s.thread_ts == ts]

    def updates(self, ts: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == "update" and s.ts == ts]


class Clock:
    """Epoch seconds that move only when the test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float = 60.0) -> float:
        self.now += seconds
        return self.now


def config(
    clusters: dict[str, str], per_cluster: dict[str, Any] | None = None, **warnings: Any
) -> Config:
    """Clusters by DSN, all alerting to CHANNEL; `warnings` keys as in the file, and
    `per_cluster` as `clusters.<name>.warnings`."""
    cluster_docs: dict[str, Any] = {}
    for name, dsn in clusters.items():
        cluster_docs[name] = {"dsn": dsn, "alert_channel": CHANNEL}
    for name, extra in (per_cluster or {}).items():
        cluster_docs[name]["warnings"] = extra
    doc = {
        "clusters": cluster_docs,
        "warnings": {"probe_timeout_seconds": 3, "unreachable_after": 1, **warnings},
    }
    return parse(doc, env={})


class SilentListener:
    """A TCP listener on loopback that accepts connections and never says a word: a server
    that hangs during the handshake."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.accepted.append(conn)

    def waiting_clients(self) -> int:
        """Accepted connections whose client has not hung up yet (what they sent is read and
        dropped: only the end of the stream tells a closed client from a waiting one)."""
        waiting = 0
        with self._lock:
            for conn in self.accepted:
                if self._still_there(conn):
                    waiting += 1
        return waiting

    @staticmethod
    def _still_there(conn: socket.socket) -> bool:
        while True:
            try:
                data = conn.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False

    def close(self) -> None:
        self._sock.close()
        with self._lock:
            for conn in self.accepted:
                conn.close()


def close_sessions(holder: pg.Holder, n: int | None = None) -> None:
    """Close the last `n` sessions (all by default) and wait until the server has let go of
    them: a backend exits a moment after its client hangs up, and a probe in between would
    still count it."""
    n = len(holder.conns) if n is None else n
    closing = [holder.conns.pop() for _ in range(n)]
    pids = [c.info.backend_pid for c in closing]
    for conn in closing:
        conn.close()
    deadline = time.monotonic() + 10
    with pg.admin(holder.cluster) as admin:
        while True:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]
            ).fetchone()
            if row is None or row[0] == 0:
                return
            assert time.monotonic() < deadline, "closed sessions are still on the server"
            time.sleep(0.02)
