"""Alerts from the monitors a team already has, answered with the live triage in their thread.

One thread per alert (`alert_threads`): the first firing notification of a rule on a cluster
gets the report in its thread; repeats of a still-firing alert add nothing; a resolved one is
told in that thread; and an alert that fires again soon after (flapping) gets one line there,
not a new report.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from bot import alerts
from bot.alerts import Alert
from bot.redact import redact_text
from bot.render.blocks import escape, notice, unescape
from bot.slack import replies
from bot.slack.alert_threads import AlertThread, AlertThreads, thread_key
from bot.slack.context import Context
from bot.slack.post import PostError
from bot.triage.units import human_duration

log = logging.getLogger("pgconn.slack")

# A firing alert older than this is a new incident, even if it never said it resolved.
FORGET_AFTER_S = 86400.0

# --- from Slack -------------------------------------------------------------------------------


def from_alert_source(event: Mapping[str, Any], sources: tuple[str, ...]) -> bool:
    """A message posted by one of `slack.alert_sources` (its bot ID or its app's ID)."""
    if not sources or event.get("subtype") not in (None, "bot_message"):
        return False
    raw = event.get("bot_profile")
    profile: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    ids = {event.get("bot_id"), event.get("app_id"), profile.get("id"), profile.get("app_id")}
    return any(i in sources for i in ids if i)


_LINK = re.compile(r"<(?:[^|>]*\|)?([^>]*)>")


def message_text(event: Mapping[str, Any]) -> str:
    """What a monitor's message says: its text, its attachments (Alertmanager's and Grafana's
    notifiers post title and text there) and its blocks' text, links reduced to their labels."""
    parts: list[str] = [str(event.get("text") or "")]
    for att in event.get("attachments") or []:
        if not isinstance(att, dict):
            continue
        parts += [str(att.get(k) or "") for k in ("pretext", "title", "text")]
        for f in att.get("fields") or []:
            if isinstance(f, dict):
                parts.append(f"{f.get('title', '')}: {f.get('value', '')}")
        if not any(att.get(k) for k in ("title", "text")):
            parts.append(str(att.get("fallback") or ""))
    for block in event.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") in ("section", "header"):
            text = block.get("text")
            if isinstance(text, dict):
                parts.append(str(text.get("text") or ""))
            for f in block.get("fields") or []:
                if isinstance(f, dict):
                    parts.append(str(f.get("text") or ""))
    joined = "\n".join(p for p in parts if p.strip())
    return unescape(_LINK.sub(lambda m: m.group(1), joined))


def cluster_of(ctx: Context, alert: Alert, channel: str | None) -> str | None:
    """The cluster whose `alert_labels` all hold; else, in a channel bound to one cluster,
    that one. None when no or several clusters match."""
    matchers = {n: c.alert_labels for n, c in ctx.config.clusters.items() if c.alert_labels}
    found = alerts.clusters_for(alert, matchers)
    if len(found) == 1:
        return found[0]
    if not found and channel is not None:
        bound = ctx.clusters_here(ctx.channel_keys(channel))
        if len(bound) == 1:
            return bound[0]
    return None


def answer_alert(ctx: Context, event: Mapping[str, Any]) -> None:
    """A message from an alert source: triage a connection alert in its thread."""
    alert = alerts.recognise(message_text(event))
    if alert is None:
        return
    channel = str(event["channel"])
    ts = str(event.get("thread_ts") or event["ts"])
    cluster = cluster_of(ctx, alert, channel)
    if cluster is None:
        if alert.firing and ctx.seen_events.put_new(f"unmapped-alert:{alert.key}", True):
            where = escape(alert.where() or "no server labels")
            ctx.poster.post_quietly(
                channel,
                notice(
                    f":grey_question: *{escape(alert.name)}* ({where}) looks like a connection "
                    "alert, but I cannot tell which cluster it is about: give the cluster "
                    "`alert_labels` in the config that match these labels, or bind this "
                    "channel to one cluster (`clusters.<name>.channels`)."
                ),
                ts,
            )
        return
    handle(ctx, alert, cluster, channel, ts)


# --- shared with the Alertmanager receiver ----------------------------------------------------


def handle(
    ctx: Context,
    alert: Alert,
    cluster: str,
    channel: str,
    thread_ts: str | None,
    header: Callable[[], str] | None = None,
) -> str:
    """Answer one notification of `alert` about `cluster`: "reported", "resolved", "refired" or
    "quiet". `thread_ts` is the alert's own message; without it (`header`), `header()` posts
    the thread's first message and returns its ts."""
    store = ctx.alert_threads
    key = thread_key(cluster, alert)
    now = time.time()
    held = store.get(key)
    if not alert.firing:
        return _resolved(ctx, store, key, held, now)
    if held is not None and not _over(held, now, ctx.config.warnings.reopen_seconds):
        if held.resolved_at is None:
            return "quiet"  # a repeat notification of an alert still firing
        held = store.update(key, held, resolved_at=None, refired=held.refired + 1)
        _say(
            ctx,
            held,
            f":repeat: *{escape(alert.name)}* fired again at {_hhmm(now)} (the "
            f"{_ordinal(held.refired + 1)} time since {_hhmm(held.fired_at)}). The triage above "
            "still stands; `/pgconn " + escape(cluster) + "` diagnoses again.",
        )
        return "refired"
    new = AlertThread(cluster=cluster, name=alert.name, fired_at=now)
    if not store.claim(key, new, held):
        return "quiet"  # another replica, or a notification a moment earlier, has it
    if thread_ts is None and header is not None:
        thread_ts = header()
    new = store.update(key, new, channel=channel, thread_ts=thread_ts)
    where = alert.where()
    note = f"Alert {alert.name}" + (f" ({where})" if where else "") + f" mapped to {cluster}."
    report = replies._report(ctx, [], ctx.config.cluster(cluster), notes=[note])
    replies.deliver(ctx, channel, report, thread_ts)
    return "reported"


def _over(held: AlertThread, now: float, reopen_s: float) -> bool:
    """The alert's thread is over: resolved long enough ago, or a day old."""
    if now - held.fired_at > FORGET_AFTER_S:
        return True
    return held.resolved_at is not None and now - held.resolved_at > reopen_s


def _resolved(
    ctx: Context, store: AlertThreads, key: str, held: AlertThread | None, now: float
) -> str:
    if held is None or held.resolved_at is not None or not held.channel:
        return "quiet"
    store.update(key, held, resolved_at=now)
    _say(
        ctx,
        held,
        f":white_check_mark: *{escape(held.name)}* resolved at {_hhmm(now)}, "
        f"{human_duration(now - held.fired_at)} after it fired.",
    )
    with contextlib.suppress(Exception):  # the incident card is edited if a diagnosis shows room
        incident = ctx.incidents.get(held.cluster)
        if incident is not None and not incident.closed:
            report = replies.report_for(ctx, held.cluster)
            replies.close_if_room(ctx, incident, report, None)
    return "resolved"


def _say(ctx: Context, held: AlertThread, mrkdwn: str) -> None:
    if held.channel:
        try:
            ctx.poster.post(held.channel, notice(mrkdwn), held.thread_ts)
        except PostError as exc:
            log.warning("alert note not posted: %s", redact_text(exc.reason, ctx.secrets))


def _hhmm(at: float) -> str:
    return f"{datetime.fromtimestamp(at, UTC):%H:%M} UTC"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
