"""Every write to Slack's Web API goes through `Poster`: redacted, retried, and logged on failure.

Retries on rate limits (429 with Retry-After) and transient errors are the WebClient's retry
handlers (see `app.web_client`); what still fails is logged with Slack's reason and reported to
the caller, which tells the user where it can. Nothing is dropped silently.

A rate limit is waited out only when Slack asks for at most `MAX_RETRY_AFTER_S`: a Retry-After
of minutes would hold a job that long, so the write fails at once instead ("ratelimited") and
the caller says so. Every call is a wait on Slack (`slots.waiting`): one that lasts gives its
job's slot up, so posting never holds up new diagnoses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.redact import redact_text
from bot.render.blocks import Message, escape, notice, report_messages
from bot.slots import waiting
from bot.triage.model import Report

log = logging.getLogger("pgconn.slack")

MAX_RETRY_AFTER_S = 10


def retry_after_s(response: HttpResponse) -> float | None:
    for key, values in response.headers.items():
        if key.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                return None
    return None


class CappedRateLimitRetry(RateLimitErrorRetryHandler):
    """Retries a 429 only when Slack's Retry-After is at most `cap_s` (missing: 1 s)."""

    def __init__(self, max_retry_count: int = 3, cap_s: float = MAX_RETRY_AFTER_S) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.cap_s = cap_s

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        wait = retry_after_s(response)
        if wait is not None and wait > self.cap_s:
            log.warning(
                "Slack asks to wait %.0f s (rate limited); not waiting over %.0f s",
                wait,
                self.cap_s,
            )
            return False
        return True


class PostError(Exception):
    """A Web API write failed after retries; `reason` is Slack's error code or the exception."""

    def __init__(self, method: str, reason: str) -> None:
        self.method = method
        self.reason = reason
        super().__init__(f"{method} failed: {reason}")


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """Every string in a payload, redacted. The renderer already redacts what it renders; this
    also covers text built elsewhere (errors, file names) before it leaves the process."""
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    return value


class Poster:
    def __init__(self, client: WebClient, secrets: Sequence[str]) -> None:
        self.client = client
        self.secrets = list(secrets)

    def _call(self, method: str, where: str, **kwargs: Any) -> dict[str, Any]:
        payload = scrub(kwargs, self.secrets)
        try:
            with waiting():
                response = self.client.api_call(method, json=payload)
        except SlackApiError as exc:
            reason = str(exc.response.get("error") or exc.response.status_code)
        except Exception as exc:  # network errors left after the retries: logged below
            reason = f"{type(exc).__name__}: {redact_text(str(exc), self.secrets)}"
        else:
            return dict(response.data) if isinstance(response.data, dict) else {}
        log.error("Slack %s to %s failed: %s", method, where, reason)
        raise PostError(method, reason)

    def post(self, channel: str, message: Message, thread_ts: str | None = None) -> str:
        """Post a message (in a thread when `thread_ts`); its ts."""
        args: dict[str, Any] = {"channel": channel, "text": message.text, "blocks": message.blocks}
        if thread_ts:
            args["thread_ts"] = thread_ts
        data = self._call("chat.postMessage", channel, **args)
        return str(data.get("ts", ""))

    def post_quietly(self, channel: str, message: Message, thread_ts: str | None = None) -> bool:
        """Post where a failure has no one else to be reported to (it is logged)."""
        try:
            self.post(channel, message, thread_ts)
        except PostError:
            return False
        return True

    def update(self, channel: str, ts: str, message: Message) -> None:
        self._call(
            "chat.update", channel, channel=channel, ts=ts, text=message.text, blocks=message.blocks
        )

    def report(self, channel: str, report: Report, thread_ts: str | None = None) -> str:
        """The summary (in the channel, or in `thread_ts`'s thread), then the full report in its
        thread. A part that fails is replaced by a note saying so; a failed summary raises."""
        summary, parts = report_messages(report, self.secrets)
        ts = self.post(channel, summary, thread_ts)
        root = thread_ts or ts
        for i, part in enumerate(parts, 1):
            try:
                self.post(channel, part, root)
            except PostError as exc:
                cli = f"pgconn diagnose {report.cluster}" if report.cluster else "pgconn explain"
                text = (
                    f":warning: Part {i} of {len(parts)} of this report could not be posted "
                    f"({escape(exc.reason)}). `{escape(cli)}` prints the whole report."
                )
                self.post_quietly(channel, notice(text), root)
        return ts


def ephemeral_reply(respond: Respond, secrets: Sequence[str]) -> Callable[[Message], None]:
    """Answer only the person who asked, through the request's response_url (which needs no
    channel membership); a failure is logged with Slack's reason."""

    def send(message: Message) -> None:
        try:
            response = respond(
                text=scrub(message.text, secrets),
                blocks=scrub(message.blocks, secrets),
                response_type="ephemeral",
                replace_original=False,
            )
        except Exception as exc:  # network errors: logged, nothing else to tell
            log.error(
                "reply through response_url failed: %s",
                redact_text(f"{type(exc).__name__}: {exc}", secrets),
            )
            return
        if response.status_code != 200:
            log.error(
                "reply through response_url failed: HTTP %s %s",
                response.status_code,
                redact_text(str(response.body)[:200], secrets),
            )

    return send
