"""Slack's Socket Mode on loopback, beside the fake Web API (`tests/slack/fake.py`).

`apps.connections.open` (called with the app-level token) hands out a `ws://127.0.0.1:PORT/link/`
URL; the websocket server there greets the bot with `hello`, sends what Slack sends over the
socket (envelopes of type `slash_commands`, `events_api` and `interactive`, each with an
`envelope_id`), and records the bot's acks by envelope id. Tests can drop the connection or
refuse new ones, as Slack does when it rotates or loses a connection.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.slack.fake import BOT_USER, FakeSlack

APP_TOKEN = "xapp-1-A0001-3333-pgconntestapptoken"


class SocketSlack:
    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake
        self.acks: dict[str, dict[str, Any]] = {}
        self.opened = 0  # connections the bot made
        self.refusing = False  # apps.connections.open answers an error while set
        self._current: ServerConnection | None = None
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._server: Server = serve(
            self._session, "127.0.0.1", 0, compression=None, close_timeout=2
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        fake.method_tokens["apps.connections.open"] = APP_TOKEN
        fake.methods["apps.connections.open"] = self._connections_open

    def start(self) -> SocketSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    # -- Slack's side of the connection

    def _connections_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.refusing:
            return {"ok": False, "error": "internal_error"}
        ticket = uuid.uuid4().hex
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}"}

    def _session(self, ws: ServerConnection) -> None:
        with self._cond:
            self._current = ws
            self.opened += 1
            self._cond.notify_all()
        ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake-socket", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0001"},
                }
            )
        )
        try:
            for message in ws:
                ack = json.loads(message)
                with self._cond:
                    self.acks[str(ack["envelope_id"])] = ack
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                if self._current is ws:
                    self._current = None
                self._cond.notify_all()

    # -- what tests do

    @property
    def connected(self) -> bool:
        with self._cond:
            return self._current is not None

    def wait_connected(self, opened: int = 1, timeout: float = 60.0) -> None:
        """Until the bot holds a connection and has opened at least `opened` in all."""
        self._wait(lambda: self._current is not None and self.opened >= opened, timeout)

    def drop(self) -> None:
        """Cut the current connection without a closing handshake, as a lost network does."""
        with self._cond:
            ws = self._current
        assert ws is not None, "the bot is not connected"
        ws.close_socket()
        self._wait(lambda: self._current is not ws, 30)

    def send(
        self, kind: str, payload: dict[str, Any], *, retry_attempt: int = 0, timeout: float = 30
    ) -> dict[str, Any]:
        """Send one envelope and return the bot's ack (fails if none comes with its id)."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
        }
        with self._cond:
            ws = self._current
        assert ws is not None, "the bot is not connected"
        ws.send(json.dumps(envelope))
        self._wait(lambda: envelope_id in self.acks, timeout)
        return self.acks[envelope_id]

    def command(
        self,
        text: str,
        *,
        channel: str = "CINC",
        user: str = "UALICE",
        response_url: str = "http://127.0.0.1:9/none",
    ) -> dict[str, Any]:
        return self.send(
            "slash_commands",
            {
                "token": "legacy-verification-token",
                "team_id": "T0001",
                "team_domain": "fake",
                "channel_id": channel,
                "channel_name": "incidents",
                "user_id": user,
                "user_name": "alice",
                "command": "/pgconn",
                "text": text,
                "api_app_id": "A0001",
                "is_enterprise_install": "false",
                "response_url": response_url,
                "trigger_id": f"trigger.{next(self._ids)}",
            },
        )

    def event(
        self, event: dict[str, Any], *, event_id: str | None = None, retry_attempt: int = 0
    ) -> dict[str, Any]:
        body = {
            "token": "legacy-verification-token",
            "team_id": "T0001",
            "api_app_id": "A0001",
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [{"team_id": "T0001", "user_id": BOT_USER, "is_bot": True}],
        }
        return self.send("events_api", body, retry_attempt=retry_attempt)

    def message(
        self, text: str, *, channel: str = "CINC", user: str = "UALICE"
    ) -> tuple[str, dict[str, Any]]:
        ts = f"{int(time.time())}.{next(self._ids):06d}"
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "channel_type": "channel",
        }
        return ts, self.event(event)

    def interaction(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.send("interactive", payload)

    def _wait(self, done: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out; connected={self._current is not None}, opened={self.opened}"
                    )
                self._cond.wait(min(left, 0.5))


@contextmanager
def running(fake: FakeSlack) -> Iterator[SocketSlack]:
    socket = SocketSlack(fake).start()
    try:
        yield socket
    finally:
        socket.stop()
