"""Listeners, one module per kind of Slack request; each has `register(app, ctx)`."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.context import Context
from bot.slack.listeners import actions, approvals, commands, events


def register(app: App, ctx: Context) -> None:
    commands.register(app, ctx)
    events.register(app, ctx)
    actions.register(app, ctx)
    approvals.register(app, ctx)
