"""Interactions: a cluster picked for a paste, a warning's "Full triage". The proposed-fix
buttons are in approvals.py."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.render.blocks import NO_CLUSTER, PICK_ACTION, PICK_BLOCK_PREFIX, notice
from bot.slack import replies
from bot.slack.context import Context
from bot.slack.post import ephemeral_reply
from bot.warnings.render import TRIAGE_ACTION

EXPIRED = (
    "This question has expired or was already answered. Paste the error again, or run "
    "`/pgconn <cluster>`."
)


def pick(ctx: Context, body: dict[str, Any], reply: replies.Reply) -> None:
    """After the ack: check the choice, then take the paste (once) and answer it."""
    action = body["actions"][0]
    token = str(action.get("block_id", "")).removeprefix(PICK_BLOCK_PREFIX)
    value = str(action.get("selected_option", {}).get("value", ""))
    pending = ctx.pickers.get(token)
    if pending is None:
        reply(notice(EXPIRED))
        return
    cluster = None if value == NO_CLUSTER else value
    if cluster is not None and ctx.refuse_here(cluster, pending.channel):
        reply(notice(f"That cluster may not be used here; choose another. {EXPIRED}"))
        return
    if ctx.pickers.pop(token) is None:  # someone else picked at the same moment
        reply(notice(EXPIRED))
        return
    picker_ts = body.get("container", {}).get("message_ts")
    replies.answer_pick(ctx, pending, cluster, str(body["user"]["id"]), picker_ts)


def triage_from_warning(ctx: Context, body: dict[str, Any], reply: replies.Reply) -> None:
    """A warning's "Full triage" button: the report, threaded under the warning."""
    action = body["actions"][0]
    try:
        value = json.loads(str(action.get("value") or ""))
        cluster, role = str(value["cluster"]), value.get("role")
    except (ValueError, KeyError, TypeError):
        reply(notice(EXPIRED))
        return
    channel = ctx.action_channel(body)
    refused = ctx.refuse_here(cluster, channel)
    if refused:
        reply(notice(f":no_entry: {refused}; nothing was posted."))
        return
    thread_ts = str(body["container"]["message_ts"])
    report = replies.report_for(ctx, cluster, str(role) if role else None)
    replies.deliver(ctx, channel, report, thread_ts, reply=reply)


def register(app: App, ctx: Context) -> None:
    @app.action(TRIAGE_ACTION)
    def on_triage(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("triage from a warning", triage_from_warning, ctx, body, reply, tell=reply)

    @app.action(PICK_ACTION)
    def on_pick(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("cluster picked", pick, ctx, body, reply, tell=reply)
