"""The HTTP endpoint Slack calls: `POST /slack/events` on a threaded stdlib server.

Requests are served concurrently by a pool of threads, so a slow client never delays another's
ack; the listeners ack before any database work, which runs on the context's worker pool.
`GET /healthz` is for load balancers and probes.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from slack_bolt import App, BoltRequest

log = logging.getLogger("pgconn.slack")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1 << 20  # Slack's payloads are a few kB; refuse anything absurd


class _Server(HTTPServer):
    """Connections are handled by a fixed set of threads started up front. A thread started
    per request makes the accept loop wait for each new thread to get the GIL, which under a
    burst costs more than the request itself."""

    # The stdlib's listen backlog of 5 resets connections when Slack sends a burst.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], threads: int
    ) -> None:
        super().__init__(address, handler)
        self._queue: queue.SimpleQueue[tuple[Any, Any] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"pgconn-http-{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:
        self._queue.put((request, client_address))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        for _ in self._threads:
            self._queue.put(None)


class BoltHTTPServer:
    def __init__(
        self,
        app: App,
        host: str = "0.0.0.0",  # noqa: S104 - Slack reaches the bot from outside
        port: int = 3000,
        threads: int = 32,
    ) -> None:
        self.app = app
        self.httpd = _Server((host, port), _handler(app), threads)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> BoltHTTPServer:
        """Serve on a background thread (tests, benchmarks)."""
        self._thread = threading.Thread(target=self.serve_forever, name="pgconn-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _handler(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pgconn"
        # Headers and body leave in one write, unheld by Nagle's algorithm.
        wbufsize = 1 << 16
        disable_nagle_algorithm = True
        timeout = 10  # a client that stalls mid-request frees its thread after this

        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            if path != EVENTS_PATH:
                self._send(404, {}, "not found")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self._send(413 if length > MAX_BODY else 400, {}, "bad request length")
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            headers: dict[str, str | Sequence[str]] = {}
            for key in set(self.headers.keys()):
                headers[key.lower()] = self.headers.get_all(key) or []
            response = app.dispatch(BoltRequest(body=body, query=query, headers=headers))
            self._send(response.status, response.headers, response.body)

        def do_GET(self) -> None:
            if self.path.partition("?")[0] == "/healthz":
                self._send(200, {}, "ok")
            else:
                self._send(404, {}, "not found")

        def _send(self, status: int, headers: dict[str, Any], body: str) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            for key, values in headers.items():
                if key.lower() == "content-length":
                    continue
                for value in values if isinstance(values, list | tuple) else [values]:
                    self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    return Handler
