"""Messages and mentions: a pasted error (or an attached log) is triaged in a thread under it.

The bot answers people only: never itself, another bot, an edit or a deletion (any `subtype`
other than a file share or a thread broadcast), so its own thread replies cannot start a loop;
except the monitors named in `slack.alert_sources`, whose connection alerts get the triage.
A message that mentions the bot is left to the `app_mention` listener, so it is answered once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_bolt import Ack, App, BoltContext

from bot.slack import alerts, replies
from bot.slack.context import Context

_FROM_PEOPLE = {None, "file_share", "thread_broadcast"}


def from_a_person(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    return (
        event.get("subtype") in _FROM_PEOPLE
        and not event.get("bot_id")
        and not event.get("bot_profile")
        and event.get("user") is not None
        and event.get("user") != bot_user_id
    )


def register(app: App, ctx: Context) -> None:
    @app.event("message")
    def on_message(ack: Ack, event: dict[str, Any], context: BoltContext) -> None:
        ack()
        me = context.bot_user_id
        if event.get("bot_id") != context.bot_id and alerts.from_alert_source(
            event, ctx.config.slack.alert_sources
        ):
            ctx.submit("answer to an alert", alerts.answer_alert, ctx, event)
            return
        if not from_a_person(event, me) or f"<@{me}>" in str(event.get("text") or ""):
            return
        ctx.submit("answer to a message", replies.answer_message, ctx, event, False)

    @app.event("app_mention")
    def on_mention(ack: Ack, event: dict[str, Any], context: BoltContext) -> None:
        ack()
        if from_a_person(event, context.bot_user_id):
            ctx.submit("answer to a mention", replies.answer_message, ctx, event, True)
