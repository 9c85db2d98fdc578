"""Interactions: a cluster picked for a paste. The proposed-fix buttons are in approvals.py."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.render.blocks import NO_CLUSTER, PICK_ACTION, PICK_BLOCK_PREFIX, notice
from bot.slack import replies
from bot.slack.context import Context
from bot.slack.post import ephemeral_reply

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
    if cluster is not None and (
        cluster not in ctx.config.clusters
        or not ctx.config.channel_may_use(cluster, ctx.channel_keys(pending.channel))
    ):
        reply(notice(f"That cluster may not be used here; choose another. {EXPIRED}"))
        return
    if ctx.pickers.pop(token) is None:  # someone else picked at the same moment
        reply(notice(EXPIRED))
        return
    picker_ts = body.get("container", {}).get("message_ts")
    replies.answer_pick(ctx, pending, cluster, str(body["user"]["id"]), picker_ts)


def register(app: App, ctx: Context) -> None:
    @app.action(PICK_ACTION)
    def on_pick(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("cluster picked", pick, ctx, body, reply, tell=reply)
