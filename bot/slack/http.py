"""The HTTP endpoint Slack calls: `POST /slack/events`.

One reader thread takes every connection in (non-blocking sockets, one selector) and gathers
each request until it is complete: a client that sends its body a byte at a time, or never
finishes its headers, costs a buffer and has `REQUEST_S` from its first byte to deliver the
rest, after which it is answered 408 and cut off. Hundreds of such clients cannot hold up a
genuine request. Only a complete request is handed, with its socket, to one of the dispatch
threads, where Bolt verifies the signature and the listener acks (the real work then goes to
the context's job pool) and the answer is written. One hand-off per request, as few GIL
switches as the old thread-per-request server, so the ack stays fast under load.

Limits: request head `MAX_HEAD` bytes (431 beyond), body `MAX_BODY` (413), connections
`MAX_CONNECTIONS` (further ones are closed at once). Each answer closes its connection. `GET
/healthz` is for load balancers.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

log = logging.getLogger("pgconn.slack")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1 << 20  # Slack's payloads are a few kB; refuse anything absurd
MAX_HEAD = 16 << 10  # request line and headers
MAX_CONNECTIONS = 2048
REQUEST_S = 10.0  # from a request's first byte to the last byte of its body
IDLE_S = 30.0  # a connection that sends nothing at all is closed after this
WRITE_S = 10.0  # writing an answer to a client that does not read


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class _Request:
    method: str
    path: str
    query: str
    headers: dict[str, list[str]]
    body: bytes


@dataclass
class _Conn:
    sock: socket.socket
    opened: float
    buf: bytearray = field(default_factory=bytearray)
    first_byte: float | None = None
    head_end: int = -1
    length: int = 0
    head: tuple[str, str, str, dict[str, list[str]]] | None = None


class BoltHTTPServer:
    """`threads`: the dispatch threads (signature check, ack, answer). The listening socket is
    bound at construction, so `port` is known before `start`."""

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
        self._listener = socket.create_server((host, port), backlog=512)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._conns: dict[int, _Conn] = {}
        self._work: queue.SimpleQueue[tuple[socket.socket, _Request] | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._dispatcher, name=f"pgconn-http-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> BoltHTTPServer:
        """Serve on a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="pgconn-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for _ in self._threads:
            self._work.put(None)

    # --- the reader thread ------------------------------------------------------------------

    def serve_forever(self) -> None:
        try:
            while not self._stop.is_set():
                for key, _ in self._selector.select(timeout=0.25):
                    if key.fileobj is self._listener:
                        self._accept()
                    else:
                        self._readable(self._conns[key.fd])
                self._expire(time.monotonic())
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)
            self._selector.close()
            with contextlib.suppress(OSError):
                self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # out of descriptors: the backlog keeps the rest waiting
                log.warning("cannot accept a connection: %s", exc)
                return
            if len(self._conns) >= MAX_CONNECTIONS:
                sock.close()
                continue
            sock.setblocking(False)
            conn = _Conn(sock, time.monotonic())
            self._conns[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, None)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        if conn.first_byte is None:
            conn.first_byte = time.monotonic()
        conn.buf += data
        try:
            request = self._complete(conn)
        except _Refused as exc:
            log.info("refused a request: %s", exc)
            self._refuse(conn, exc.status, str(exc))
            return
        if request is not None:
            self._detach(conn)
            self._work.put((conn.sock, request))

    def _complete(self, conn: _Conn) -> _Request | None:
        """The request once all of it is in, else None; _Refused for one pgconn will not take."""
        if conn.head is None:
            end = conn.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(conn.buf) > MAX_HEAD:
                    raise _Refused(431, "request headers too large")
                return None
            if end > MAX_HEAD:
                raise _Refused(431, "request headers too large")
            conn.head = _parse_head(bytes(conn.buf[:end]))
            conn.head_end = end + 4
            conn.length = _length(conn.head[3])
        if len(conn.buf) - conn.head_end < conn.length:
            return None
        method, path, query, headers = conn.head
        body = bytes(conn.buf[conn.head_end : conn.head_end + conn.length])
        return _Request(method, path, query, headers, body)

    def _expire(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.first_byte is not None and now - conn.first_byte > self.request_s:
                log.info("a request did not arrive within %.0f s; cut off", self.request_s)
                self._refuse(conn, 408, "the request did not arrive in time")
            elif conn.first_byte is None and now - conn.opened > IDLE_S:
                self._close(conn)

    def _refuse(self, conn: _Conn, status: int, reason: str) -> None:
        with contextlib.suppress(OSError):  # best effort: the client may not be reading
            conn.sock.send(_response(status, {}, reason))
        self._close(conn)

    def _detach(self, conn: _Conn) -> None:
        self._conns.pop(conn.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _close(self, conn: _Conn) -> None:
        self._detach(conn)
        with contextlib.suppress(OSError):
            conn.sock.close()

    # --- the dispatch threads ---------------------------------------------------------------

    def _dispatcher(self) -> None:
        while (item := self._work.get()) is not None:
            sock, request = item
            try:
                status, headers, body = self._answer(request)
                sock.settimeout(WRITE_S)
                sock.sendall(_response(status, headers, body))
            except OSError:
                pass  # the client went away
            except Exception:
                log.exception("answering a request failed")
            finally:
                with contextlib.suppress(OSError):
                    sock.close()

    def _answer(self, request: _Request) -> tuple[int, dict[str, Any], str]:
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return 200, {}, "ok"
        if request.path != EVENTS_PATH or request.method != "POST":
            return 404, {}, "not found"
        text = request.body.decode("utf-8", errors="replace")
        headers: dict[str, str | Sequence[str]] = dict(request.headers)
        try:
            response: BoltResponse = self.app.dispatch(
                BoltRequest(body=text, query=request.query, headers=headers)
            )
        except Exception as exc:
            # A body Bolt cannot parse (bad JSON in `payload`, say) is the sender's error: one
            # line in the log, no traceback (an unsigned body must not fill the log), and 400.
            log.warning("unreadable request (%s); answered 400", type(exc).__name__)
            return 400, {}, "bad request"
        return response.status, response.headers, response.body


def _response(status: int, headers: dict[str, Any], body: str) -> bytes:
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
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, list[str]]]:
    try:
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ")
    except ValueError:
        raise _Refused(400, "malformed request line") from None
    if not version.startswith("HTTP/1."):
        raise _Refused(505, "HTTP/1.x only")
    headers: dict[str, list[str]] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise _Refused(400, "malformed header")
        headers.setdefault(name.lower(), []).append(value.strip())
    path, _, query = target.partition("?")
    return method, path, query, headers


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
