"""The work done after the ack, on the context's worker pool: scan, diagnose, render, post.

Every path ends in something the user sees (a report, a picker, a clear notice) or, for a
message without any signal, deliberately in nothing.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from bot import signals
from bot.config import ClusterConfig
from bot.pasted import Pasted
from bot.pasted import read as read_pasted
from bot.render.blocks import (
    ClusterRow,
    Message,
    cluster_list,
    cluster_picker,
    escape,
    notice,
    summary_message,
    unescape,
)
from bot.service import analyse
from bot.signals.model import Signal
from bot.slack import files
from bot.slack.context import Context, PendingPaste
from bot.slack.post import PostError
from bot.slack.progress import Progress
from bot.triage.model import Report

Reply = Callable[[Message], None]  # an ephemeral answer to the person who asked

MENTION_HINT = (
    "Paste the error (or upload the log) in a message and I will triage it in a thread, or run "
    "`/pgconn <cluster>`. `/pgconn help` lists the commands."
)
_NOT_A_MEMBER = {"not_in_channel", "channel_not_found"}


def _report(
    ctx: Context,
    found: Sequence[Signal],
    cluster: ClusterConfig | None,
    role: str | None = None,
    notes: Sequence[str] = (),
    pasted: Pasted | None = None,
) -> Report:
    return analyse(
        found,
        cluster,
        ctx.playbooks,
        focus_role=role,
        secrets=ctx.secrets,
        extra_notes=notes,
        keepers=ctx.keepers,
        pasted=pasted,
    )


def report_for(ctx: Context, cluster: str, role: str | None = None) -> Report:
    """A live report of a configured cluster, narrowed to `role` when given."""
    return _report(ctx, [], ctx.config.cluster(cluster), role)


def diagnose(ctx: Context, cluster: str, role: str | None, channel: str, reply: Reply) -> None:
    """`/pgconn <cluster> [role]`: the summary in the channel, the report in its thread."""
    report = report_for(ctx, cluster, role)
    try:
        ctx.poster.report(channel, report)
    except PostError as exc:
        hint = (
            "Invite me with `/invite @pgconn` and run the command again."
            if exc.reason in _NOT_A_MEMBER
            else "The summary is below; try again shortly."
        )
        problem = notice(
            f":warning: I could not post in this channel ({escape(exc.reason)}). " + hint
        )
        summary = summary_message(report, ctx.secrets)
        reply(Message(problem.text, problem.blocks + summary.blocks))


def list_clusters(ctx: Context, names: Sequence[str], hidden: int, reply: Reply) -> None:
    """`/pgconn list`: a quick diagnosis of each cluster, at most `probe_workers` at once."""
    futures: dict[str, Future[Report]] = {
        name: ctx.probes.submit(_report, ctx, [], ctx.config.cluster(name)) for name in names
    }
    rows = []
    for name, future in futures.items():
        try:
            rows.append(ClusterRow(name, future.result()))
        except Exception as exc:  # one broken cluster must not hide the others
            reason = ctx.log_failure(f"quick diagnosis of {name}", exc)
            rows.append(ClusterRow(name, None, f"diagnosis failed: {reason}"))
    for message in cluster_list(rows, hidden, ctx.secrets):
        reply(message)


def _scan_files(
    ctx: Context, event: Mapping[str, Any], thread_ts: str
) -> tuple[list[Signal], bool]:
    """Signals from the attached files; True when a file could not be read (the thread is
    told why, in the progress message when there is one)."""
    found: list[Signal] = []
    refused = False
    slack = ctx.config.slack
    channel = str(event["channel"])
    for file in event.get("files") or []:
        if not isinstance(file, dict) or not files.wanted(file):
            continue
        name = files.label(file)
        size = file.get("size")
        progress = Progress(
            ctx.poster,
            channel,
            thread_ts,
            escape(name),
            size if isinstance(size, int) else None,
            after_s=ctx.tuning.progress_after_s,
            every_s=ctx.tuning.progress_every_s,
        )
        try:
            got = files.scan(
                file,
                ctx.client,
                slack.bot_token or "",
                slack.api_url,
                slack.max_file_bytes,
                progress,
            )
        except files.FileRefused as exc:
            refused = True
            problem = notice(f":warning: {escape(str(exc))}")
            if not progress.finish(problem):
                ctx.poster.post_quietly(channel, problem, thread_ts)
            continue
        found.extend(got)
        progress.finish(
            notice(
                f":white_check_mark: Scanned {escape(name)}: "
                f"{len(got)} connection-limit signal(s) found."
            )
        )
    return found, refused


def answer_message(ctx: Context, event: Mapping[str, Any], mentioned: bool) -> None:
    """A message (or mention) in a channel: triage any signal in a thread under it."""
    channel = str(event["channel"])
    thread_ts = str(event.get("thread_ts") or event["ts"])
    text = unescape(str(event.get("text") or ""))
    found = signals.scan(text) if text.strip() else []
    from_files, refused = _scan_files(ctx, event, thread_ts)
    found.extend(from_files)
    pasted = read_pasted(text, found) if text.strip() else None
    if not found and (pasted is None or (pasted.snapshot is None and pasted.pooler is None)):
        if mentioned and not refused:
            ctx.poster.post_quietly(channel, notice(MENTION_HINT), thread_ts)
        return
    keys = ctx.channel_keys(channel)
    bound = ctx.clusters_here(keys)
    if len(bound) == 1:
        cluster = ctx.config.cluster(bound[0])
        ctx.poster.report(channel, _report(ctx, found, cluster, pasted=pasted), thread_ts)
        return
    usable = ctx.usable_here(keys)
    if not usable:
        note = (
            "No cluster may be used from this channel (`clusters.<name>.channels` in the "
            "config), so this advice comes from the text alone."
        )
        report = _report(ctx, found, None, notes=[note], pasted=pasted)
        ctx.poster.report(channel, report, thread_ts)
        return
    token = secrets.token_urlsafe(9)
    ctx.pickers.put_new(token, PendingPaste(tuple(found), channel, thread_ts, pasted))
    ctx.poster.post(channel, cluster_picker(found, usable, token, ctx.secrets), thread_ts)


def answer_pick(
    ctx: Context, pending: PendingPaste, cluster: str | None, user: str, picker_ts: str | None
) -> None:
    """The cluster picked for a paste: the report in the paste's thread."""
    chosen = f"*{escape(cluster)}*" if cluster else "no cluster (the text alone)"
    if picker_ts:
        with contextlib.suppress(PostError):  # logged; the report below is what matters
            ctx.poster.update(
                pending.channel, picker_ts, notice(f"<@{escape(user)}> chose {chosen}.")
            )
    config = ctx.config.cluster(cluster) if cluster else None
    report = _report(ctx, pending.found, config, pasted=pending.pasted)
    ctx.poster.report(pending.channel, report, pending.thread_ts)
