"""The side port: /healthz (the process answers), /readyz (it can do its job), /metrics.

Kept apart from the Slack port so probes and scrapes never queue behind Slack's requests, and
so the metrics are not exposed where Slack's traffic comes in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bot.observability.metrics import exposition

log = logging.getLogger(__name__)

Check = Callable[[], bool]
# A POST route registered by another module: (headers, body) -> (status, response body).
PostHandler = Callable[[Mapping[str, str], bytes], tuple[int, bytes]]
MAX_POST_BYTES = 1024 * 1024


class HealthServer:
    """`checks` name what readiness needs (e.g. "slack", "store"); each returns True when OK."""

    def __init__(self, port: int, checks: Mapping[str, Check], host: str = "0.0.0.0") -> None:  # noqa: S104
        self.checks = dict(checks)
        self.draining = threading.Event()
        self.post_routes: dict[str, PostHandler] = {}
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="pgconn-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def route_post(self, path: str, handler: PostHandler) -> None:
        """Serve POST `path` with `handler` (register before `start`)."""
        self.post_routes[path] = handler

    def readiness(self) -> tuple[bool, dict[str, bool]]:
        results: dict[str, bool] = {}
        for name, check in self.checks.items():
            try:
                results[name] = bool(check())
            except Exception:  # a failing check is a "not ready", not a crash
                log.exception("readiness check %s failed", name)
                results[name] = False
        ready = all(results.values()) and not self.draining.is_set()
        return ready, results

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: HealthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "pgconn"

        def do_GET(self) -> None:
            path = self.path.partition("?")[0]
            if path == "/healthz":
                self._send(200, b"ok\n")
            elif path == "/readyz":
                ready, results = server.readiness()
                lines = [f"{name}: {'ok' if ok else 'FAILING'}" for name, ok in results.items()]
                if server.draining.is_set():
                    lines.append("shutting down")
                self._send(200 if ready else 503, ("\n".join(lines) + "\n").encode())
            elif path == "/metrics":
                self._send(200, exposition(), "text/plain; version=0.0.4; charset=utf-8")
            else:
                self._send(404, b"not found\n")

        def do_POST(self) -> None:
            handler = server.post_routes.get(self.path.partition("?")[0])
            if handler is None:
                self._send(404, b"not found\n")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_POST_BYTES:
                self._send(413, b"body missing or too large\n")
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                status, body = handler(headers, self.rfile.read(length))
            except Exception:  # a failing route answers 500, the side port keeps serving
                log.exception("POST %s failed", self.path)
                status, body = 500, b"internal error\n"
            self._send(status, body)

        def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("health %s", format % args)

    return Handler
