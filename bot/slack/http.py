"""The HTTP endpoint Slack calls: `POST /slack/events`, served by an asyncio front end.

Reading requests is done by coroutines, not threads: a client that sends its body a byte at a
time, or never finishes its headers, costs a few kilobytes and has the whole-request deadline
(`REQUEST_S`) to finish, after which it is cut off. Hundreds of such clients do not delay a
genuine request. Only a complete request reaches a thread of the dispatch pool, where Bolt
verifies the signature and the listener acks (the real work then goes to the context's job
pool), so the ack never waits for a slow client, a database or a free reader.

Limits: request head `MAX_HEAD` bytes (431 beyond), body `MAX_BODY` (413), connections
`MAX_CONNECTIONS` (further ones are closed at once). `GET /healthz` is for load balancers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger("pgconn.slack")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1 << 20  # Slack's payloads are a few kB; refuse anything absurd
MAX_HEAD = 16 << 10  # request line and headers
MAX_CONNECTIONS = 2048
REQUEST_S = 10.0  # from the first byte awaited to the last byte of the body
IDLE_S = 60.0  # a kept-alive connection with no new request is closed after this


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class BoltHTTPServer:
    """`threads`: the dispatch pool (signature check, ack). The listening socket is bound at
    construction, so `port` is known before `start`."""

    def __init__(
        self,
        app: App,
        host: str = "0.0.0.0",  # noqa: S104 - Slack reaches the bot from outside
        port: int = 3000,
        threads: int = 32,
        *,
        request_s: float = REQUEST_S,
    ) -> None:
        self.app = app
        self.request_s = request_s
        self._sock = socket.create_server((host, port), backlog=512, reuse_port=False)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="pgconn-http")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._open = 0

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def serve_forever(self) -> None:
        asyncio.run(self._main())

    def start(self) -> BoltHTTPServer:
        """Serve on a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="pgconn-http", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(OSError):
            self._sock.close()

    # --- the event loop ---------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._sock, limit=MAX_HEAD)
        self._ready.set()
        async with server:
            await self._stopping.wait()
            server.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= MAX_CONNECTIONS:
            writer.close()
            return
        self._open += 1
        peer = writer.get_extra_info("peername")
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None:  # headers and body leave in one write, unheld by Nagle
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            first = True
            while True:
                try:
                    request = await self._read(reader, IDLE_S if not first else self.request_s)
                except _Refused as exc:
                    log.info("refused a request from %s: %s", _peer(peer), exc)
                    await self._write(writer, exc.status, {}, str(exc), keep=False)
                    return
                if request is None:
                    return
                first = False
                method, path, query, headers, body, keep = request
                status, out_headers, text = await self._answer(method, path, query, headers, body)
                await self._write(writer, status, out_headers, text, keep=keep)
                if not keep:
                    return
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError, OSError):
            return
        finally:
            self._open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read(
        self, reader: asyncio.StreamReader, first_byte_s: float
    ) -> tuple[str, str, str, dict[str, list[str]], bytes, bool] | None:
        """One request, or None when the client closed or went quiet between requests."""
        try:
            async with asyncio.timeout(first_byte_s):
                start = await reader.read(1)
        except TimeoutError:
            return None
        if not start:
            return None
        try:
            async with asyncio.timeout(self.request_s):
                try:
                    head = start + await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    raise _Refused(431, "request headers too large") from None
                method, path, query, version, headers = _parse_head(head)
                length = _length(headers)
                body = await reader.readexactly(length) if length else b""
        except TimeoutError:
            raise _Refused(408, "the request did not arrive in time") from None
        connection = ",".join(headers.get("connection", [])).lower()
        keep = version == "HTTP/1.1" and "close" not in connection
        return method, path, query, headers, body, keep

    async def _answer(
        self, method: str, path: str, query: str, headers: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, Any], str]:
        if path == "/healthz" and method in ("GET", "HEAD"):
            return 200, {}, "ok"
        if path != EVENTS_PATH or method != "POST":
            return 404, {}, "not found"
        loop = asyncio.get_running_loop()
        try:
            response = await loop.run_in_executor(self._pool, self._dispatch, body, query, headers)
        except RuntimeError:  # the pool is shutting down
            return 503, {}, "shutting down"
        return response.status, response.headers, response.body

    def _dispatch(self, body: bytes, query: str, headers: dict[str, list[str]]) -> BoltResponse:
        text = body.decode("utf-8", errors="replace")
        try:
            return self.app.dispatch(BoltRequest(body=text, query=query, headers=dict(headers)))
        except Exception as exc:
            # A body Bolt cannot parse (bad JSON in `payload`, say) is the sender's error; it
            # is logged in one line, without a traceback (an unsigned body must not fill the
            # log), and answered 400.
            log.warning("unreadable request (%s); answered 400", type(exc).__name__)
            return BoltResponse(status=400, body="bad request")

    async def _write(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        headers: dict[str, Any],
        body: str,
        *,
        keep: bool,
    ) -> None:
        data = body.encode("utf-8")
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {status} {phrase}", "Server: pgconn"]
        for key, values in headers.items():
            if key.lower() in ("content-length", "connection"):
                continue
            for value in values if isinstance(values, list | tuple) else [values]:
                lines.append(f"{key}: {value}")
        lines.append(f"Content-Length: {len(data)}")
        lines.append(f"Connection: {'keep-alive' if keep else 'close'}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        async with asyncio.timeout(self.request_s):
            await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, str, dict[str, list[str]]]:
    try:
        text = head.decode("latin-1")
        request_line, *header_lines = text.split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise _Refused(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise _Refused(505, "HTTP/1.x only")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _Refused(400, "malformed header")
        headers.setdefault(name.lower(), []).append(value.strip())
    path, _, query = target.partition("?")
    return method, path, query, version, headers


def _length(headers: dict[str, list[str]]) -> int:
    if "transfer-encoding" in headers:
        raise _Refused(411, "a Content-Length is required")
    values = headers.get("content-length", ["0"])
    try:
        length = int(values[0])
    except ValueError:
        raise _Refused(400, "bad Content-Length") from None
    if len(set(values)) > 1 or length < 0:
        raise _Refused(400, "bad Content-Length")
    if length > MAX_BODY:
        raise _Refused(413, "request body too large")
    return length


def _peer(peer: Any) -> str:
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"
