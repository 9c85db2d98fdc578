"""Builds the Bolt app and runs it: Socket Mode with an app token, otherwise HTTP.

Listeners run in the request's thread (`process_before_response=True`): they parse, ack and hand
the real work to the context's worker pool, so the ack never waits for a database and never
waits for a free listener thread either.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Config
from bot.errors import ConfigError, PgconnError
from bot.observability import metrics
from bot.observability.health import HealthServer
from bot.observability.logs import request_context
from bot.playbooks import PlaybookSet
from bot.redact import redact_text
from bot.slack import alertmanager, listeners
from bot.slack.context import Context, Tuning
from bot.slack.http import EVENTS_PATH, BoltHTTPServer
from bot.slack.notifier import SlackNotifier
from bot.slack.post import CappedRateLimitRetry
from bot.warnings.scheduler import WarningsScheduler, start_warnings

log = logging.getLogger("pgconn.slack")

DEFAULT_HEALTH_PORT = 8081


def web_client(config: Config) -> WebClient:
    """The Web API client: base URL from the config, retries on 429 (after a Retry-After of
    at most 10 s; a longer one fails the call at once), on 500/503 and on connection errors."""
    return WebClient(
        token=config.slack.bot_token,
        base_url=config.slack.api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            CappedRateLimitRetry(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def socket_mode(config: Config) -> bool:
    return bool(config.slack.app_token)


def check_tokens(config: Config) -> None:
    """Every missing token named at once, with its env var."""
    slack = config.slack
    problems = []
    if not slack.bot_token:
        problems.append("slack.bot_token: set SLACK_BOT_TOKEN (the xoxb- bot token)")
    if not socket_mode(config) and not slack.signing_secret:
        problems.append(
            "slack.signing_secret: set SLACK_SIGNING_SECRET for HTTP mode, or "
            "SLACK_APP_TOKEN (xapp-) to use Socket Mode"
        )
    if problems:
        raise ConfigError(problems, config.source)


class RequestScope(Middleware):
    """Tags everything a request does (its logs, and the work it hands to the workers) with a
    request id, and counts requests by kind for the metrics."""

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        body = req.body
        kind = (
            "command"
            if "command" in body
            else "event"
            if "event" in body
            else str(body.get("type") or "other")
        )
        metrics.REQUESTS.labels(kind).inc()
        rid = body.get("event_id") or body.get("trigger_id")
        with request_context(str(rid) if rid else None):
            return next()


class AnswerOnce(Middleware):
    """Each request Slack makes is answered once. Slack retries an event it thinks was not
    received (`X-Slack-Retry-Num`, same `event_id`), and a signed request replayed within the
    signature's five minutes is the same request again (a slash command or an interaction
    with the same `trigger_id`). The first delivery is answered, the others only acknowledged.
    `first_sight` decides; with a PostgreSQL state store it is shared by every replica."""

    def __init__(self, first_sight: Callable[[str], bool]) -> None:
        self.first_sight = first_sight

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        key = delivery_id(req)
        if key is not None and not self.first_sight(key):
            if key.startswith("body:"):
                log.info("a signed request was replayed: already answered, ignored")
            else:
                retry = req.headers.get("x-slack-retry-num", ["?"])[0]
                log.info("event %s delivered again (retry %s): already answered", key, retry)
            return BoltResponse(status=200, body="")
        return next()


def delivery_id(req: BoltRequest) -> str | None:
    """What identifies one request from Slack: an event's id; for a slash command or an
    interaction, the request itself (its body carries a fresh trigger_id each time, so only a
    replay repeats it byte for byte)."""
    event_id = req.body.get("event_id")
    if isinstance(event_id, str) and event_id:
        return event_id
    if not req.raw_body:
        return None
    return "body:" + hashlib.sha256(req.raw_body.encode("utf-8", "replace")).hexdigest()


def _first_sight(ctx: Context) -> Callable[[str], bool]:
    memory = ctx.seen_events
    if not ctx.config.state_dsn:
        return lambda event_id: memory.put_new(event_id, True)

    def shared(event_id: str) -> bool:
        try:
            return ctx.store().first_sight(
                event_id, now=time.time(), keep_s=ctx.tuning.memory_ttl_s
            )
        except Exception as exc:  # answer rather than drop, if the store is down
            log.warning(
                "event de-duplication fell back to memory: %s", redact_text(str(exc), ctx.secrets)
            )
            return memory.put_new(event_id, True)

    return shared


def build_app(
    config: Config, playbooks: PlaybookSet, tuning: Tuning | None = None
) -> tuple[App, Context]:
    """The app with every listener; checks the bot token with Slack (auth.test) up front."""
    check_tokens(config)
    client = web_client(config)
    # Bolt logs a rejected request's body at INFO; it may carry the legacy verification token.
    logging.getLogger("slack_bolt.RequestVerification").setLevel(logging.WARNING)
    try:
        app = App(  # the token comes with the client
            signing_secret=config.slack.signing_secret,
            client=client,
            process_before_response=True,
            request_verification_enabled=not socket_mode(config),
        )
    except Exception as exc:
        reason = redact_text(str(exc), config.secrets())
        raise PgconnError(
            f"Slack did not accept the bot token at {config.slack.api_url} ({reason}). Check "
            "SLACK_BOT_TOKEN (or slack.bot_token) and SLACK_API_URL (or slack.api_url)."
        ) from exc
    ctx = Context(config, playbooks, client, tuning or Tuning())
    app.use(RequestScope())
    app.use(AnswerOnce(_first_sight(ctx)))
    listeners.register(app, ctx)
    return app, ctx


def serve(
    config: Config,
    playbooks: PlaybookSet,
    port: int,
    host: str = "0.0.0.0",  # noqa: S104 - Slack reaches the bot from outside
    health_port: int | None = DEFAULT_HEALTH_PORT,
    drain_s: float = 20.0,
) -> None:
    """Run until SIGTERM or Ctrl-C; the warnings scheduler runs beside it.

    Shutdown is graceful: readiness turns 503 first (the load balancer stops sending), the
    Slack listener stops accepting, work already accepted gets `drain_s` to finish, the
    warnings lease is handed back, and connections are closed.
    """
    app, ctx = build_app(config, playbooks)
    stopping = threading.Event()
    health: HealthServer | None = None
    watch: WarningsScheduler | None = None
    stop_listener: Callable[[], None] = lambda: None  # noqa: E731
    alive: Callable[[], bool] = lambda: not stopping.is_set()  # noqa: E731
    try:
        if socket_mode(config):
            # The websocket-client adapter, not Bolt's built-in one: a connection lost without a
            # closing handshake is noticed at once (re-opened, and readiness says so), where the
            # built-in client keeps the dead socket and reports it connected.
            from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

            log.info("pgconn: Socket Mode (SLACK_APP_TOKEN is set); no public URL needed")
            handler = SocketModeHandler(
                app, config.slack.app_token, web_client=WebClient(base_url=config.slack.api_url)
            )
            handler.connect()  # type: ignore[no-untyped-call]
            alive = handler.client.is_connected
            stop_listener = handler.close
            wait = stopping.wait
        else:
            server = BoltHTTPServer(app, host, port)
            log.info("pgconn: HTTP mode, serving %s on %s:%d", EVENTS_PATH, host, server.port)
            reachable = SlackReachable(config)
            alive = lambda: not stopping.is_set() and reachable()  # noqa: E731
            stop_listener = server.stop
            server.start()
            wait = stopping.wait
        if health_port is not None:
            checks = {"slack": alive, "store": ctx.store_healthy, "workers": ctx.workers_healthy}
            health = HealthServer(health_port, checks, host=host)
            alertmanager.register(health, ctx)  # POST /alertmanager, when a token is set
            health.start()
            log.info("pgconn: /healthz, /readyz and /metrics on port %d", health.port)
        watch = start_warnings(config, SlackNotifier(ctx.poster), ctx.store, ctx.keepers)
        _on_signals(stopping)
        wait()
        log.info("pgconn: shutting down")
    finally:
        if health is not None:
            health.draining.set()
        stop_listener()
        if watch is not None:
            watch.stop()
        if not ctx.drain(drain_s):
            log.warning("pgconn: work still running after %.0f s was abandoned", drain_s)
        ctx.close()
        if health is not None:
            health.stop()
        log.info("pgconn: stopped")


class SlackReachable:
    """Readiness of the Slack side in HTTP mode: `auth.test` answered, re-asked at most every
    `every_s` seconds so probes cost Slack nothing, with a short timeout and no retries."""

    def __init__(self, config: Config, every_s: float = 60.0) -> None:
        self._client = WebClient(
            token=config.slack.bot_token, base_url=config.slack.api_url, timeout=3
        )
        self._every_s = every_s
        self._lock = threading.Lock()
        self._checked = time.monotonic()  # build_app's auth.test just succeeded
        self._ok = True

    def __call__(self) -> bool:
        with self._lock:
            if time.monotonic() - self._checked >= self._every_s:
                try:
                    self._ok = bool(self._client.auth_test().get("ok"))
                except Exception as exc:  # unreachable or refused: not ready, say why
                    log.warning("Slack is not reachable: %s", type(exc).__name__)
                    self._ok = False
                self._checked = time.monotonic()
            return self._ok


def _on_signals(stopping: threading.Event) -> None:
    """SIGTERM (docker stop, Kubernetes) and SIGINT both start the graceful shutdown."""
    if threading.current_thread() is not threading.main_thread():
        return  # signals can only be handled on the main thread (tests run serve elsewhere)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
