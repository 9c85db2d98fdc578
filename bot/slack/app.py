"""Builds the Bolt app and runs it: Socket Mode with an app token, otherwise HTTP.

Listeners run in the request's thread (`process_before_response=True`): they parse, ack and hand
the real work to the context's worker pool, so the ack never waits for a database and never
waits for a free listener thread either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Config
from bot.errors import ConfigError, PgconnError
from bot.playbooks import PlaybookSet
from bot.redact import redact_text
from bot.slack import listeners
from bot.slack.context import Context, Tuning
from bot.slack.http import EVENTS_PATH, BoltHTTPServer
from bot.slack.memory import ExpiringMap
from bot.slack.notifier import SlackNotifier
from bot.warnings.scheduler import WarningsScheduler, start_warnings

log = logging.getLogger("pgconn.slack")


def web_client(config: Config) -> WebClient:
    """The Web API client: base URL from the config, retries on 429 (after Retry-After), on
    500/503 and on connection errors."""
    return WebClient(
        token=config.slack.bot_token,
        base_url=config.slack.api_url,
        timeout=30,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
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


class AnswerOnce(Middleware):
    """Slack retries an event it thinks was not received (`X-Slack-Retry-Num`, same
    `event_id`): the first delivery is answered, the others only acknowledged."""

    def __init__(self, seen: ExpiringMap[bool]) -> None:
        self.seen = seen

    def process(
        self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        event_id = req.body.get("event_id")
        if isinstance(event_id, str) and not self.seen.put_new(event_id, True):
            retry = req.headers.get("x-slack-retry-num", ["?"])[0]
            log.info("event %s delivered again (retry %s): already answered", event_id, retry)
            return BoltResponse(status=200, body="")
        return next()


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
    app.use(AnswerOnce(ctx.seen_events))
    listeners.register(app, ctx)
    return app, ctx


def serve(config: Config, playbooks: PlaybookSet, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
    """Run until interrupted; the warnings scheduler runs beside it and stops with it."""
    app, ctx = build_app(config, playbooks)
    watch: WarningsScheduler | None = None
    try:
        watch = start_warnings(config, SlackNotifier(ctx.poster))
        if socket_mode(config):
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            log.info("pgconn: Socket Mode (SLACK_APP_TOKEN is set); no public URL needed")
            handler = SocketModeHandler(
                app, config.slack.app_token, web_client=WebClient(base_url=config.slack.api_url)
            )
            handler.start()  # type: ignore[no-untyped-call]
        else:
            server = BoltHTTPServer(app, host, port)
            log.info("pgconn: HTTP mode, serving %s on %s:%d", EVENTS_PATH, host, server.port)
            server.serve_forever()
    finally:
        if watch is not None:
            watch.stop()
        ctx.close()
