"""`/pgconn`: parsed and checked against the configuration before the ack.

What needs no database (help, usage, an unknown or forbidden cluster) is the ack itself, shown
only to the person who typed it. A diagnosis is acknowledged at once and runs on the worker pool.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.render.blocks import Message, escape, notice, unescape
from bot.slack import replies
from bot.slack.context import Context
from bot.slack.post import ephemeral_reply, scrub

COMMAND = "/pgconn"
_NO_NAME = {None, "", "privategroup", "directmessage"}
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True)
class Parsed:
    verb: str  # "help", "list", "diagnose", or "usage" (with `problem`)
    cluster: str | None = None
    role: str | None = None
    problem: str | None = None
    fresh: bool = False


def parse(text: str) -> Parsed:
    """`help`, `list`, `<cluster> [role] [fresh]`; a role with spaces is quoted (Slack's curly
    quotes count as quotes). `fresh` posts a full report even minutes after the last one."""
    raw = unescape(text).translate(_QUOTES).strip()
    try:
        words = shlex.split(raw)
    except ValueError:
        words = raw.split()
    if not words:
        return Parsed("usage", problem="Which cluster?")
    if len(words) == 1 and words[0].lower() in ("help", "list"):
        return Parsed(words[0].lower())
    fresh = len(words) > 1 and words[-1].lower() == "fresh"
    if fresh:
        words = words[:-1]
    if len(words) > 2:
        return Parsed("usage", problem="Too many words (quote a role name that has spaces).")
    return Parsed("diagnose", words[0], words[1] if len(words) == 2 else None, fresh=fresh)


def _names(names: list[str]) -> str:
    return ", ".join(f"`{escape(n)}`" for n in names) if names else "none"


def _bound_to(channels: tuple[str, ...]) -> str:
    return ", ".join(f"<#{c}>" if not c.startswith("#") else escape(c) for c in channels)


def help_text(ctx: Context, keys: list[str]) -> str:
    here = ctx.usable_here(keys)
    return "\n".join(
        [
            "*pgconn* triages PostgreSQL connection exhaustion.",
            f"• `{COMMAND} <cluster>`: live diagnosis: an incident card here, the report in its "
            "thread (within minutes of the last report, a link to it; add `fresh` for a new one)",
            f"• `{COMMAND} <cluster> <role>`: the same, narrowed to one role",
            f"• `{COMMAND} list`: the clusters this channel may use, with their headroom",
            f"• `{COMMAND} help`: this help",
            "Paste a connection error, or upload the log, in a channel I am in: I answer in its "
            "thread, for the cluster bound to the channel (or I ask which one).",
            f"Clusters you can use here: {_names(here)}.",
        ]
    )


def check(ctx: Context, parsed: Parsed, keys: list[str]) -> str | None:
    """Why this command cannot run here, with what would work; None when it can."""
    here = _names(ctx.usable_here(keys))
    if parsed.verb == "usage":
        return (
            f":warning: {parsed.problem} Usage: `{COMMAND} <cluster> [role] [fresh]`. Clusters you "
            f"can use here: {here}. `{COMMAND} list` shows their headroom."
        )
    if parsed.verb != "diagnose" or parsed.cluster is None:
        return None
    cluster = ctx.config.clusters.get(parsed.cluster)
    if cluster is None:
        return (
            f":warning: There is no cluster named `{escape(parsed.cluster)}`. Clusters you "
            f"can use here: {here}."
        )
    if not ctx.config.channel_may_use(parsed.cluster, keys):
        return (
            f":no_entry: `{escape(parsed.cluster)}` may only be used in "
            f"{_bound_to(cluster.channels)}. Run the command there, or use one of the "
            f"clusters allowed here: {here}."
        )
    return None


def _ack(ack: Ack, ctx: Context, message: Message) -> None:
    ack(
        text=scrub(message.text, ctx.secrets),
        blocks=scrub(message.blocks, ctx.secrets),
        response_type="ephemeral",
    )


def handle(ctx: Context, ack: Ack, command: dict[str, Any], respond: Respond) -> None:
    parsed = parse(str(command.get("text") or ""))
    channel = str(command["channel_id"])
    name = command.get("channel_name")
    # Private channels and DMs come named "privategroup" / "directmessage": not their names.
    keys = ctx.channel_keys(channel, None if name in _NO_NAME else name)
    problem = check(ctx, parsed, keys)
    reply = ephemeral_reply(respond, ctx.secrets)
    if problem is not None:
        _ack(ack, ctx, notice(problem))
    elif parsed.verb == "help":
        _ack(ack, ctx, notice(help_text(ctx, keys)))
    elif parsed.verb == "list":
        ack()
        usable = ctx.usable_here(keys)
        hidden = len(ctx.config.clusters) - len(usable)
        ctx.submit("/pgconn list", replies.list_clusters, ctx, usable, hidden, reply, tell=reply)
    else:
        assert parsed.cluster is not None  # check() passed a diagnose with a cluster
        ack()
        ctx.submit(
            f"/pgconn {parsed.cluster}",
            replies.diagnose,
            ctx,
            parsed.cluster,
            parsed.role,
            channel,
            reply,
            parsed.fresh,
            tell=reply,
        )


def register(app: App, ctx: Context) -> None:
    @app.command(COMMAND)
    def pgconn(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        handle(ctx, ack, command, respond)
