"""The work done after the ack, on the context's worker pool: scan, diagnose, render, post.

Every path ends in something the user sees (a report, a picker, a clear notice) or, for a
message without any signal, deliberately in nothing.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC
from typing import Any

from bot import signals
from bot.config import ClusterConfig
from bot.redact import redact_text
from bot.render import answer
from bot.render.answer import plural
from bot.render.blocks import (
    ClusterRow,
    Message,
    closed_card,
    cluster_list,
    cluster_picker,
    escape,
    notice,
    repeat_message,
    summary_message,
    thread_messages,
    unescape,
)
from bot.service import analyse
from bot.signals.model import Signal
from bot.slack import files
from bot.slack.context import Context, PendingPaste
from bot.slack.incidents import Incident, describe
from bot.slack.post import PostError
from bot.slack.progress import Progress
from bot.triage.model import Report

log = logging.getLogger("pgconn.slack")

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
) -> Report:
    return analyse(
        found,
        cluster,
        ctx.playbooks,
        focus_role=role,
        secrets=ctx.secrets,
        extra_notes=notes,
        keepers=ctx.keepers,
        thresholds=ctx.tuning.thresholds,
    )


def permalink(ctx: Context, channel: str, ts: str) -> str | None:
    """A link to a message (chat.getPermalink); None when Slack does not give one."""
    try:
        link = ctx.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except Exception as exc:  # a missing link leaves the text without it, nothing more
        log.warning("chat.getPermalink failed: %s", redact_text(str(exc), ctx.secrets))
        return None
    return str(link) if link else None


def _post_report(
    ctx: Context, channel: str, report: Report, thread_ts: str | None, since: float | None
) -> str:
    """The incident card (in the channel, or in `thread_ts`'s thread), then the thread: "Do
    now" first. A thread part that fails is replaced by a note; a failed card raises."""
    card = summary_message(report, ctx.secrets, since=since)
    ts = ctx.poster.post(channel, card, thread_ts)
    root = thread_ts or ts
    parts = thread_messages(report, ctx.secrets)
    for i, part in enumerate(parts, 1):
        try:
            ctx.poster.post(channel, part, root)
        except PostError as exc:
            cli = f"pgconn diagnose {report.cluster}" if report.cluster else "pgconn explain"
            text = (
                f":warning: Part {i} of {len(parts)} of this report could not be posted "
                f"({escape(exc.reason)}). `{escape(cli)}` prints the whole report."
            )
            ctx.poster.post_quietly(channel, notice(text), root)
    return ts


def close_if_room(ctx: Context, held: Incident, report: Report, link: str | None) -> Incident:
    """A later diagnosis shows the incident's limit has room again: edit its card (✅ with
    before → after) and link the new report."""
    before = held.fullness()
    if held.closed or before is None or report.snapshot is None or not held.card_ts:
        return held
    after = answer.fullness_now(before.kind, before.name, report.snapshot)
    if after is None or not after.has_room or not held.channel:
        return held
    at = report.snapshot.taken_at.astimezone(UTC)
    how = f"Room again at {at:%H:%M UTC} (a later diagnosis)"
    card = closed_card(
        held.cluster, before, after, how, link, ctx.secrets, link_label="See the new report"
    )
    with contextlib.suppress(PostError):  # logged by the poster
        ctx.poster.update(held.channel, held.card_ts, card)
    return ctx.incidents.update(held, closed=True)


def deliver(
    ctx: Context,
    channel: str,
    report: Report,
    thread_ts: str | None = None,
    *,
    fresh: bool = False,
    reply: Reply | None = None,
) -> str | None:
    """Post a report, once per incident: when the cluster was reported less than
    `repeat_window_s` ago (by any replica), answer with a short reply that links that thread
    and says only what is new; `fresh` posts the full report anyway. The card's ts, or None."""
    if report.cluster is None:
        return _post_report(ctx, channel, report, thread_ts, None)
    now = time.time()
    window = ctx.tuning.repeat_window_s
    new = describe(report, now)
    previous = ctx.incidents.get(report.cluster)
    if not report.findings:
        # Nothing wrong: no incident to keep one thread for.
        ts = _post_report(ctx, channel, report, thread_ts, None)
        _close_previous(ctx, previous, report, channel, ts)
        return ts
    keep_since = previous is not None and not previous.closed and now - previous.since < 86400
    if keep_since and previous is not None:
        new = replace(new, since=previous.since)
    claimed, held = ctx.incidents.claim(new, stale_before=now + 1 if fresh else now - window)
    if not claimed and held is not None:
        _close_previous(
            ctx, held, report, channel, _repeat(ctx, channel, report, held, thread_ts, reply)
        )
        return None
    ts = _post_report(ctx, channel, report, thread_ts, new.since if keep_since else None)
    ctx.incidents.update(new, channel=channel, thread_ts=thread_ts or ts, card_ts=ts)
    _close_previous(ctx, previous, report, channel, ts)
    return ts


def _close_previous(
    ctx: Context, held: Incident | None, report: Report, channel: str, ts: str | None
) -> None:
    """Edit the earlier incident's card if this report shows room again, linking `ts`."""
    if held is None or held.closed or not held.card_ts:
        return
    link = permalink(ctx, channel, ts) if ts else None
    close_if_room(ctx, held, report, link)


def _repeat(
    ctx: Context,
    channel: str,
    report: Report,
    held: Incident,
    thread_ts: str | None,
    reply: Reply | None,
) -> str | None:
    """The short reply; its ts when it was posted in a channel."""
    link = permalink(ctx, held.channel, held.card_ts) if held.channel and held.card_ts else None
    message = repeat_message(
        report,
        age_s=time.time() - held.reported_at,
        link=link,
        before=held.fullness(),
        seen=set(held.signals),
        previous_headline=held.headline,
        secrets=ctx.secrets,
    )
    if thread_ts is None and reply is not None:
        reply(message)  # a command: only the person who typed it needs the link
        return None
    return ctx.poster.post(channel, message, thread_ts)


def report_for(ctx: Context, cluster: str, role: str | None = None) -> Report:
    """A live report of a configured cluster, narrowed to `role` when given."""
    return _report(ctx, [], ctx.config.cluster(cluster), role)


def diagnose(
    ctx: Context,
    cluster: str,
    role: str | None,
    channel: str,
    reply: Reply,
    fresh: bool = False,
) -> None:
    """`/pgconn <cluster> [role] [fresh]`: the incident card in the channel, the report in its
    thread; or, for a cluster reported minutes ago, a link to that thread."""
    report = report_for(ctx, cluster, role)
    try:
        deliver(ctx, channel, report, fresh=fresh, reply=reply)
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
                f"{plural(len(got), 'connection-limit signal')} found."
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
    if not found:
        if mentioned and not refused:
            ctx.poster.post_quietly(channel, notice(MENTION_HINT), thread_ts)
        return
    keys = ctx.channel_keys(channel)
    bound = ctx.clusters_here(keys)
    if len(bound) == 1:
        deliver(ctx, channel, _report(ctx, found, ctx.config.cluster(bound[0])), thread_ts)
        return
    usable = ctx.usable_here(keys)
    if not usable:
        note = (
            "No cluster may be used from this channel (`clusters.<name>.channels` in the "
            "config), so this advice comes from the text alone."
        )
        deliver(ctx, channel, _report(ctx, found, None, notes=[note]), thread_ts)
        return
    token = secrets.token_urlsafe(9)
    ctx.pickers.put_new(token, PendingPaste(tuple(found), channel, thread_ts))
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
    deliver(ctx, pending.channel, _report(ctx, pending.found, config), pending.thread_ts)
