"""Warning messages as `Notice`s (text and Block Kit), and `pgconn check` as text or JSON. Pure.

Names come from servers (a role can be called anything): every one is escaped (`&<>`) before it
goes into mrkdwn, and reasons from drivers are redacted by the caller and escaped here.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.notify import Notice
from bot.render.blocks import escape, sections
from bot.warnings.model import (
    ClusterResult,
    EntityKind,
    Evaluation,
    Holder,
    Level,
    Probe,
    ProbeFailure,
    Usage,
)
from bot.warnings.trend import MIN_SAMPLES, MIN_SPAN_S, Trend

MAX_FIELD = 2000  # Slack's limit for a section field
_ICON = {
    Level.OK: ":white_check_mark:",
    Level.WARNING: ":large_orange_circle:",
    Level.CRITICAL: ":red_circle:",
}
_TITLE = {Level.OK: "OK", Level.WARNING: "Warning", Level.CRITICAL: "Critical"}


@dataclass(frozen=True, slots=True)
class WarningView:
    """Everything a warning message says; `now` None leaves the time over out."""

    cluster: str
    usage: Usage
    level: Level
    trend: Trend
    since: float
    peak: int
    now: float | None
    peak_limit: int = 0


# -- small phrases ---------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """`45 s`, `12 min`, `2 h 05 min`, `3 d 4 h`."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def approx(seconds: float) -> str:
    """A time to limit, rounded so that it reads as the estimate it is and does not change
    (and edit the message) on every probe: minutes below 15 min, 5 min below an hour, hours
    below a day."""
    s = max(seconds, 0.0)
    if s < 60:
        return "under a minute"
    if s < 15 * 60:
        return f"~{round(s / 60)} min"
    if s < 3600:
        return f"~{round(s / 300) * 5} min"
    if s < 86400:
        return f"~{round(s / 3600)} h"
    return "more than a day"


def share(usage: Usage) -> str:
    return usage.short()


def peak_text(peak: int, peak_limit: int) -> str:
    """The peak against the limit it was measured on (a limit raised since does not count)."""
    if peak_limit <= 0:
        return f"{peak}"
    return f"{peak}/{peak_limit} ({round(peak * 100 / peak_limit)}%)"


def _who(kind: EntityKind, name: str) -> str:
    if kind is EntityKind.SERVER:
        return "the server"
    if kind is EntityKind.POOLER:
        return "PgBouncer's clients (max_client_conn)"
    return f"{kind.value} *{escape(name)}*"


def who(usage: Usage) -> str:
    """The entity in mrkdwn: `role *app_user*`, `database *shop*`, `the server`."""
    return _who(usage.kind, usage.name)


def rate(per_minute: float) -> str:
    """`+24/min`, `+0.5/min`: whole sessions when there are, one decimal below one."""
    if abs(per_minute) >= 1:
        return f"{per_minute:+.0f}/min"
    return f"{per_minute:+.1f}/min"


def trend_phrase(trend: Trend) -> str:
    if trend.per_minute is None:
        return (
            f"not enough samples yet (a rate needs {MIN_SAMPLES} probes over at least "
            f"{duration(MIN_SPAN_S)})"
        )
    window = duration(trend.span_s)
    if trend.direction == "steady":
        return f"steady over the last {window}"
    return f"{trend.direction}, {rate(trend.per_minute)} over the last {window}"


def limit_phrase(usage: Usage, trend: Trend) -> str:
    """`at this rate, app_user is full in ~12 min`, or why there is no estimate."""
    name = {EntityKind.SERVER: "the server", EntityKind.POOLER: "PgBouncer"}.get(
        usage.kind, escape(usage.name)
    )
    if usage.current >= usage.limit:
        return f"{name} is full now"
    if trend.seconds_to_limit is None:
        return "not climbing: no estimate"
    when = approx(trend.seconds_to_limit)
    return f"at this rate, {name} is full in {when}"


def holder_line(holder: Holder) -> str:
    app = f"`{escape(holder.application)}`" if holder.application else "_(no application_name)_"
    state = escape(holder.state) if holder.state else "state not visible"
    return f"• {holder.count} × {app} from {escape(holder.client)}, {state}"


def leak_phrase(usage: Usage, trend: Trend) -> str:
    top = next((h for h in usage.holders if h.state == "idle"), None)
    source = ""
    if top is not None:
        app = f"`{escape(top.application)}`" if top.application else "a client"
        source = f"; most are {app} from {escape(top.client)}"
    return (
        f":droplet: Idle sessions climbed steadily (+{trend.idle_rise} in "
        f"{duration(trend.span_s)}): a probable connection leak{source}."
    )


# The warning's button: the Slack adapter answers it with the full report in the thread.
TRIAGE_ACTION = "pgconn.warning.triage"


def triage_button(cluster: str, usage: Usage) -> dict[str, Any]:
    role = usage.name if usage.kind is EntityKind.ROLE else None
    return {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": TRIAGE_ACTION,
                "text": {"type": "plain_text", "text": "Full triage"},
                "value": json.dumps({"cluster": cluster, "role": role}),
            }
        ],
    }


def triage_command(cluster: str, usage: Usage) -> str:
    words = ["/pgconn", cluster]
    if usage.kind is EntityKind.ROLE:
        words.append(usage.name)
    return " ".join(shlex.quote(w) for w in words)


def fingerprint(view: WarningView) -> str:
    """What the message says that is worth an edit: level, usage, direction, the time to limit
    as shown, the leak, the holders. The rate's decimals, the window and the time over change
    on every probe; they are refreshed with the rest on the next edit."""
    holders = [(h.application, h.client, h.state, h.count) for h in view.usage.holders]
    said = (
        view.level.value,
        view.usage.current,
        view.usage.limit,
        view.trend.direction,
        limit_phrase(view.usage, view.trend),
        view.trend.leak,
        holders,
    )
    return hashlib.sha256(repr(said).encode()).hexdigest()[:16]


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _fields(pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"type": "section", "fields": [_mrkdwn(f"*{k}*\n{v}"[:MAX_FIELD]) for k, v in pairs]}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text[:MAX_FIELD])]}


# -- messages ----------------------------------------------------------------------------------


def warning(view: WarningView) -> Notice:
    """The incident's message, posted once and edited in place while it lasts."""
    u, trend = view.usage, view.trend
    cluster = escape(view.cluster)
    headline = (
        f"{_ICON[view.level]} *{_TITLE[view.level]}* · *{cluster}* · {who(u)} is at "
        f"*{share(u)}* of its connections"
    )
    if u.kind is EntityKind.SERVER:
        headline = (
            f"{_ICON[view.level]} *{_TITLE[view.level]}* · *{cluster}* · the server is "
            f"at *{share(u)}* of the slots ordinary roles may use"
        )
    facts = [
        ("Trend", trend_phrase(trend)),
        ("Time to limit", limit_phrase(u, trend)),
        ("Peak", peak_text(view.peak, view.peak_limit or u.limit)),
    ]
    if view.now is not None:
        clock = time.strftime("%H:%M UTC", time.gmtime(view.since))
        over = view.now - view.since
        for_ = duration(over) if over >= 60 else "under a minute"
        facts.append(("Over the line for", f"{for_} (since {clock})"))
    blocks: list[dict[str, Any]] = [*sections(headline), _fields(facts)]
    if trend.leak:
        blocks += sections(leak_phrase(u, trend))
    if u.holders:
        blocks += sections("*Top holders*\n" + "\n".join(holder_line(h) for h in u.holders))
    command = triage_command(view.cluster, u)
    blocks.append(triage_button(view.cluster, u))
    blocks.append(_context(f"Full triage: the button, or `{escape(command)}`"))
    text = (
        f"{_TITLE[view.level]}: {cluster} {escape(u.label)} at {share(u)}; {limit_phrase(u, trend)}"
    )
    return Notice(text=text, blocks=tuple(blocks))


def escalated(view: WarningView) -> Notice:
    """The reply in the thread when a warning turns critical (an edit notifies nobody)."""
    text = (
        f":red_circle: Now critical: {who(view.usage)} is at *{share(view.usage)}*; "
        f"{limit_phrase(view.usage, view.trend)}."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


def reopened(view: WarningView) -> Notice:
    text = (
        f"{_ICON[view.level]} Over the line again: {who(view.usage)} is at "
        f"*{share(view.usage)}*; {limit_phrase(view.usage, view.trend)}."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


@dataclass(frozen=True, slots=True)
class RecoveryView:
    """An incident that is over: since when it was over the line, its peak, where it is now
    (None when the entity is no longer limited)."""

    cluster: str
    kind: EntityKind
    entity: str
    since: float
    now: float
    peak: int
    limit: int
    usage: Usage | None
    peak_limit: int = 0


def _recovery_who(view: RecoveryView) -> str:
    return _who(view.kind, view.entity)


def recovered(view: RecoveryView) -> Notice:
    """The short reply in the incident's thread."""
    if view.usage is None:
        now = "it no longer has a connection limit (or no longer exists)"
    else:
        now = f"now at {share(view.usage)}"
    text = (
        f":white_check_mark: Recovered: {_recovery_who(view)} is back below its threshold "
        f"after {duration(view.now - view.since)} over the line (peak "
        f"{peak_text(view.peak, view.peak_limit or view.limit)}); {now}."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


def resolved(view: RecoveryView) -> Notice:
    """The incident's message once it is over (edited in place)."""
    clock = time.strftime("%H:%M UTC", time.gmtime(view.since))
    text = (
        f":white_check_mark: *Recovered* · *{escape(view.cluster)}* · "
        f"{_recovery_who(view)} was over the line for {duration(view.now - view.since)} "
        f"from {clock}, peak {peak_text(view.peak, view.peak_limit or view.limit)}."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


def unreachable(cluster: str, reason: str, since: float) -> Notice:
    """The message for a cluster the probe cannot reach (edited when the reason changes)."""
    clock = time.strftime("%H:%M UTC", time.gmtime(since))
    command = shlex.join(["pgconn", "check", cluster])
    text = (
        f":no_entry: *{escape(cluster)}* cannot be probed (since {clock}): "
        f"{escape(reason)}\nIts warnings are paused until it answers. Check the server, "
        f"the network and the monitoring role's DSN; `{escape(command)}` tries again."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


def unreachable_again(cluster: str, reason: str) -> Notice:
    text = f":no_entry: *{escape(cluster)}* cannot be probed again: {escape(reason)}"
    return Notice(text=text, blocks=tuple(sections(text)))


def reachable(cluster: str, since: float, now: float) -> Notice:
    """The reply in the thread when the cluster answers again."""
    text = (
        f":white_check_mark: *{escape(cluster)}* answers the probe again, after "
        f"{duration(now - since)}; its warnings are back on."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


def reachable_resolved(cluster: str, since: float, now: float) -> Notice:
    """The unreachable message once the cluster answers again (edited in place)."""
    clock = time.strftime("%H:%M UTC", time.gmtime(since))
    text = (
        f":white_check_mark: *Reachable again* · *{escape(cluster)}* could not be probed "
        f"for {duration(now - since)} from {clock}."
    )
    return Notice(text=text, blocks=tuple(sections(text)))


# -- pgconn check ------------------------------------------------------------------------------


def _entity_row(cluster: str, e: Evaluation) -> str:
    u = e.usage
    ttl = ""
    if u.current >= u.limit:
        ttl = "full"
    elif e.trend.seconds_to_limit is not None:
        ttl = f"full in {approx(e.trend.seconds_to_limit)}"
    top = ", ".join(
        f"{h.count}×{h.application or '-'}@{h.client}/{h.state or '?'}" for h in u.holders[:2]
    )
    usage = f"{u.current}/{u.limit}" + (f"+{u.over}" if u.over else "")
    return (
        f"{cluster:<16} {u.label:<32} {usage:>11} {round(u.share * 100):>4}%  "
        f"{e.level.value.upper():<8} {ttl:<18} {top}"
    ).rstrip()


def check_text(results: Sequence[ClusterResult]) -> str:
    """One line per entity: cluster, entity, usage, level, time to limit, top holders."""
    lines = [
        f"{'CLUSTER':<16} {'ENTITY':<32} {'USAGE':>11} {'SHARE':>5}  {'LEVEL':<8} "
        f"{'TO LIMIT':<18} TOP HOLDERS"
    ]
    for r in results:
        if isinstance(r.outcome, ProbeFailure):
            lines.append(f"{r.cluster:<16} UNREACHABLE: {r.outcome.reason}")
            continue
        lines.extend(_entity_row(r.cluster, e) for e in r.evaluations)
    return "\n".join(lines)


def check_dict(results: Sequence[ClusterResult]) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    for r in results:
        item: dict[str, Any] = {"cluster": r.cluster, "reachable": r.reachable}
        if isinstance(r.outcome, ProbeFailure):
            item["reason"] = r.outcome.reason
        if isinstance(r.outcome, Probe):
            limits = r.outcome.limits
            item["server"] = {
                "max_connections": limits.max_connections,
                "superuser_reserved_connections": limits.superuser_reserved,
                "reserved_connections": limits.reserved,
            }
            item["level"] = r.worst.value
        item["entities"] = [
            {
                "kind": e.usage.kind.value,
                "name": e.usage.name,
                "current": e.usage.current,
                "limit": e.usage.limit,
                "share": round(e.usage.share, 4),
                "headroom": e.usage.headroom.as_dict() if e.usage.headroom else None,
                "level": e.level.value,
                "threshold": e.levels.threshold,
                "critical": e.levels.critical,
                "idle": e.usage.idle,
                "idle_in_transaction": e.usage.idle_in_transaction,
                "seconds_to_limit": e.trend.seconds_to_limit,
                "holders": [
                    {
                        "application": h.application,
                        "client": h.client,
                        "state": h.state,
                        "count": h.count,
                    }
                    for h in e.usage.holders
                ],
            }
            for e in r.evaluations
        ]
        out.append(item)
    return {"clusters": out}
