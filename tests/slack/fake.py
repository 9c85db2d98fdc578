"""A stand-in for Slack on loopback: the Web API the bot calls, the files it downloads, the
response_urls it answers, and a client that signs requests to the bot as Slack does.

Every call is recorded (method, parsed body, raw body, headers); tests wait on the record with a
deadline instead of sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode

import httpx

BOT_TOKEN = "xoxb-1111-2222-pgconntesttoken"
SIGNING_SECRET = "8f14e45fceea167a5a36dedd4bea2543"
BOT_USER = "UBOT0001"
BOT_ID = "BBOT0001"
LOGIN_PAGE = b"<!DOCTYPE html><html><body>Sign in to Slack</body></html>"

T = TypeVar("T")


@dataclass
class Call:
    method: str  # a Web API method, "response" (a response_url) or "file" (a download)
    path: str
    headers: dict[str, str]
    raw: str
    body: dict[str, Any]
    answer: dict[str, Any] = field(default_factory=dict)

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.body.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    def shown(self) -> str:
        """Everything a person would read in this message."""
        return json.dumps([self.body.get("text", ""), self.blocks], ensure_ascii=False)


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.channel_names: dict[str, str] = {}
        self.file_info: dict[str, dict[str, Any]] = {}  # for files.info
        # Methods answered by a test's own stand-in, and the token each expects if not the bot's
        # (Socket Mode's apps.connections.open takes the app-level token).
        self.methods: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.method_tokens: dict[str, str] = {}
        # method -> [calls to let through first, status, headers, answer]
        self._faults: dict[str, list[list[Any]]] = {}
        self._ts = itertools.count(1)
        self._cond = threading.Condition()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    # -- lifecycle and addresses

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/"

    @property
    def api_url(self) -> str:
        return self.url + "api/"

    def response_url(self, name: str) -> str:
        return f"{self.url}response/{name}"

    def add_file(self, name: str, content: bytes, content_type: str = "text/plain") -> str:
        self.files[name] = (content, content_type)
        return f"{self.url}files/{name}"

    # -- behaviour

    def fail_once(self, method: str, status: int = 429, retry_after: int = 1) -> None:
        """The next call of `method` gets `status` (with Retry-After for a 429)."""
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        error = "ratelimited" if status == 429 else "fatal"
        self._faults.setdefault(method, []).append(
            [0, status, headers, {"ok": False, "error": error}]
        )

    def error_once(self, method: str, error: str, after: int = 0) -> None:
        """The call of `method` after the next `after` ones answers `{"ok": false, ...}`."""
        self._faults.setdefault(method, []).append([after, 200, {}, {"ok": False, "error": error}])

    def _answer(self, method: str, body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with self._cond:
            faults = self._faults.get(method)
            if faults:
                if faults[0][0] == 0:
                    _, status, headers, answer = faults.pop(0)
                    return status, headers, answer
                faults[0][0] -= 1
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        channel = body.get("channel")
        answers: dict[str, dict[str, Any]] = {
            "auth.test": {
                "url": "https://fake.slack.test/",
                "team": "Fake",
                "user": "pgconn",
                "team_id": "T0001",
                "user_id": BOT_USER,
                "bot_id": BOT_ID,
            },
            "chat.postMessage": {"channel": channel, "ts": ts, "message": {"text": "…"}},
            "chat.update": {"channel": channel, "ts": body.get("ts")},
            "chat.postEphemeral": {"message_ts": ts},
            "chat.getPermalink": {
                "channel": channel,
                "permalink": f"https://fake.slack.test/archives/{channel}/p"
                + str(body.get("message_ts", "")).replace(".", ""),
            },
            "conversations.info": {
                "channel": {"id": channel, "name": self.channel_names.get(str(channel), "general")}
            },
        }
        if method in self.methods:
            return 200, {}, self.methods[method](body)
        if method == "files.info":
            info = self.file_info.get(str(body.get("file")))
            return (
                200,
                {},
                {"ok": True, "file": info} if info else {"ok": False, "error": "file_not_found"},
            )
        return 200, {}, {"ok": True, **answers.get(method, {})}

    def _record(self, call: Call) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    # -- what happened

    def find(self, method: str | None = None, **where: Any) -> list[Call]:
        with self._cond:
            calls = list(self.calls)
        return [
            c
            for c in calls
            if (method is None or c.method == method)
            and all(c.body.get(k) == v for k, v in where.items())
        ]

    def wait_for(self, probe: Callable[[], T], timeout: float = 60.0) -> T:
        """Poll `probe` on every new call until it returns something truthy, or fail."""
        deadline = time.monotonic() + timeout
        while True:
            result = probe()
            if result:
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; calls so far: {self.summary()}")
            with self._cond:  # woken by the next call; re-probed at least twice a second
                self._cond.wait(min(left, 0.5))

    def summary(self) -> list[str]:
        return [f"{c.method} {c.body.get('channel', '')} {c.shown()[:120]}" for c in self.calls]


def _parse(raw: str, content_type: str) -> dict[str, Any]:
    if "json" in content_type:
        return dict(json.loads(raw or "{}"))
    return {k: v[0] for k, v in parse_qs(raw).items()}


def _handler(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = _parse(raw, headers.get("content-type", ""))
            if self.path.startswith("/response/"):
                fake._record(Call("response", self.path, headers, raw, body))
                self._send(200, {"Content-Type": "text/plain"}, b"ok")
                return
            method = self.path.removeprefix("/api/")
            token = fake.method_tokens.get(method, BOT_TOKEN)
            if headers.get("authorization") != f"Bearer {token}":
                status, extra, answer = 200, {}, {"ok": False, "error": "invalid_auth"}
            else:
                status, extra, answer = fake._answer(method, body)
            fake._record(Call(method, self.path, headers, raw, body, answer))
            self._send(
                status, {"Content-Type": "application/json", **extra}, json.dumps(answer).encode()
            )

        def do_GET(self) -> None:
            name = self.path.removeprefix("/files/")
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake._record(Call("file", self.path, headers, "", {"name": name}))
            if name not in fake.files:
                self._send(404, {"Content-Type": "text/plain"}, b"no such file")
            elif headers.get("authorization") != f"Bearer {BOT_TOKEN}":
                # What Slack does: a sign-in page, with 200.
                self._send(200, {"Content-Type": "text/html"}, LOGIN_PAGE)
            else:
                content, content_type = fake.files[name]
                self._send(200, {"Content-Type": content_type}, content)

        def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    try:
        yield fake
    finally:
        fake.stop()


# -- requests to the bot, signed as Slack signs them ---------------------------------------------


def signature(secret: str, timestamp: str, body: str) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackSender:
    """Sends what Slack sends to `/slack/events`, signed with the app's signing secret."""

    def __init__(self, url: str, secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.secret = secret
        self.http = httpx.Client(timeout=30)
        self._ids = itertools.count(1)

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: float | None = None,
        headers: dict[str, str] | None = None,
        signed: bool = True,
    ) -> httpx.Response:
        ts = str(int(time.time() if timestamp is None else timestamp))
        sent = {"Content-Type": content_type, **(headers or {})}
        if signed:
            sent["X-Slack-Request-Timestamp"] = ts
            sent["X-Slack-Signature"] = signature(self.secret, ts, body)
        return self.http.post(self.url, content=body.encode(), headers=sent)

    def command(
        self,
        text: str,
        *,
        channel: str = "CINC",
        channel_name: str = "incidents",
        user: str = "UALICE",
        response_url: str = "http://127.0.0.1:9/none",
        **kwargs: Any,
    ) -> httpx.Response:
        form = {
            "token": "legacy-verification-token",
            "team_id": "T0001",
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": channel_name,
            "user_id": user,
            "user_name": "alice",
            "command": "/pgconn",
            "text": text,
            "api_app_id": "A0001",
            "response_url": response_url,
            "trigger_id": f"trigger.{next(self._ids)}",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **kwargs)

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry: int | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
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
        headers = (
            {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
            if retry
            else {}
        )
        return self.post(json.dumps(body), "application/json", headers=headers, **kwargs)

    def message(
        self,
        text: str,
        *,
        channel: str = "CINC",
        user: str = "UALICE",
        ts: str | None = None,
        **extra: Any,
    ) -> tuple[str, httpx.Response]:
        ts = ts or f"{int(time.time())}.{next(self._ids):06d}"
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "channel_type": "channel",
            **extra,
        }
        return ts, self.event(event)

    def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return self.post(body, "application/x-www-form-urlencoded")

    def close(self) -> None:
        self.http.close()
