"""Block Kit rendering for Slack: pure functions from the core's objects to messages.

Slack rejects a message with more than 50 blocks, a section text over 3000 characters, a button
value over 2000 or a button text over 75. Nothing here is cut to fit: a long text becomes several
sections, a long statement several code blocks marked "continued", a long report several thread
messages marked "part i of n".

Every string from a server, a paste or the configuration (role names can hold anything) is
redacted, then escaped: `&`, `<` and `>` are Slack's control characters (`<!channel>` would ping a
whole channel), and every mrkdwn object is `verbatim` so nothing else gets auto-linked.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.redact import redact_text
from bot.signals.model import Signal
from bot.triage.model import ActionKind, Finding, ProposedAction, Report, Severity

Block = dict[str, Any]

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_TEXT = 75
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100
# Slack's documented ceiling for a message is 40,000 characters; a thread message stays far
# below it so each part is readable on a phone.
MAX_MESSAGE_CHARS = 12_000

ACTION_PREFIX = "pgconn.action."
PICK_ACTION = "pgconn.pick_cluster"
PICK_BLOCK_PREFIX = "pgconn.pick:"
NO_CLUSTER = "-"  # picker option: explain the paste without live data
_CONTINUED = "_(continued)_"

_SEVERITY_ICON = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}
_DESTRUCTIVE = {ActionKind.TERMINATE, ActionKind.CANCEL}


@dataclass(frozen=True)
class Message:
    """One chat message: `text` is the notification fallback, `blocks` what is shown."""

    text: str
    blocks: list[Block] = field(default_factory=list)


def escape(text: str) -> str:
    """Slack's three control characters, as Slack documents them (`&` first)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Text as Slack delivers it (message and command text arrive escaped) back to plain."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


class _Clean:
    """Redact, then escape: a secret containing `&` must be found before it is rewritten."""

    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = list(secrets)

    def __call__(self, text: str) -> str:
        return escape(self.raw(text))

    def raw(self, text: str) -> str:
        return redact_text(text, self.secrets)


# -- building blocks ---------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def section(text: str) -> Block:
    if not 0 < len(text) <= MAX_SECTION:
        raise ValueError(f"section text of {len(text)} characters")
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _safe_cut(text: str, limit: int) -> int:
    """Where to cut escaped text at most `limit` long without splitting `&amp;` and friends."""
    cut = min(limit, len(text))
    amp = text.rfind("&", max(0, cut - 4), cut)
    if amp != -1 and ";" not in text[amp:cut]:
        cut = amp
    return cut if cut > 0 else limit


def split_text(text: str, limit: int = MAX_SECTION) -> list[str]:
    """Pieces of at most `limit` characters, cut at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = _safe_cut(rest, limit)
            pieces.append(rest[:cut])
            rest = rest[cut:]
        else:
            pieces.append(rest[:cut])
            rest = rest[cut + 1 :]
    if rest.strip():
        pieces.append(rest)
    return pieces


def sections(text: str) -> list[Block]:
    return [section(piece) for piece in split_text(text)]


def _code(label: str, code: str, clean: _Clean) -> list[Block]:
    """A statement in code blocks; a long one over several, each after the first "continued"."""
    if "```" in code:
        # A fence inside the code (a role named with backticks) would end an mrkdwn block early;
        # preformatted rich text shows it literally, no escaping involved.
        fenced = sections(label)
        for piece in split_text(clean.raw(code), MAX_SECTION):
            element = {"type": "text", "text": piece}
            preformatted = {"type": "rich_text_preformatted", "elements": [element]}
            fenced.append({"type": "rich_text", "elements": [preformatted]})
        return fenced
    out: list[Block] = []
    head = label
    if len(label) > MAX_SECTION // 3:
        out.extend(sections(label))
        head = ""
    budget = MAX_SECTION - max(len(head), len(_CONTINUED)) - 8
    for piece in split_text(clean(code), budget):
        out.append(section(f"{head}\n```{piece}```" if head else f"```{piece}```"))
        head = _CONTINUED
    return out


def _chars(block: Block) -> int:
    return len(json.dumps(block, ensure_ascii=False))


# -- the report ----------------------------------------------------------------------------------


def _percent(current: int, limit: int) -> str:
    return f"{round(current * 100 / limit)}%" if limit > 0 else "n/a"


def _usage(finding: Finding) -> str:
    if finding.current is None or finding.limit is None:
        return ""
    return f" · {_percent(finding.current, finding.limit)} used"


def _icon(report: Report) -> str:
    if not report.findings:
        return ":white_check_mark:"
    return _SEVERITY_ICON[max(f.severity for f in report.findings)]


def _where(report: Report, clean: _Clean) -> str:
    return f"*{clean(report.cluster)}*" if report.cluster else "*pasted text*"


def _snapshot_line(report: Report) -> str:
    snap = report.snapshot
    if snap is None:
        return ""
    if snap.pasted:
        return (
            f"From the pasted pg_stat_activity, as of {snap.taken_at:%H:%M:%S %Z}".rstrip()
            + " · server slots: "
            + snap.server_headroom().figures()
        )
    return (
        f"Live at {snap.taken_at:%H:%M:%S %Z}".rstrip()
        + f" · PostgreSQL {snap.server_version} · server slots: "
        + snap.server_headroom().figures()
    )


def summary_message(report: Report, secrets: Sequence[str] = ()) -> Message:
    """The short message for the channel: what is full, how full, and the top cause."""
    clean = _Clean(secrets)
    head = f"{_icon(report)} {_where(report, clean)}: {clean(report.headline)}"
    # The headline usually is the top finding's title: listed again only with what it adds.
    lines = [
        f"{_SEVERITY_ICON[f.severity]} {clean(f.title)}{_usage(f)}"
        for f in report.findings[:3]
        if f.title.rstrip(".") != report.headline.rstrip(".") or _usage(f)
    ]
    if len(report.findings) > 3:
        lines.append(f"… and {len(report.findings) - 3} more finding(s)")
    tail = [
        _snapshot_line(report) if report.snapshot else ":warning: No live data (see the thread)"
    ]
    if report.findings:
        tail.append("Findings, playbook and SQL in the thread")
    blocks = sections(head + ("\n" + "\n".join(lines) if lines else ""))
    blocks.append(_context(clean(" · ".join(t for t in tail if t))))
    fallback = f"{report.cluster or 'pasted text'}: {report.headline}"
    return Message(split_text(clean(fallback))[0], blocks)


def _signal_text(sig: Signal, clean: _Clean) -> str:
    entity = ", ".join(
        part
        for part in (
            f'role "{clean(sig.role)}"' if sig.role is not None else "",
            f'database "{clean(sig.database)}"' if sig.database is not None else "",
            clean(sig.detail or ""),
        )
        if part
    )
    code = f", SQLSTATE {clean(sig.sqlstate)}" if sig.sqlstate else ""
    when = f"; {clean(sig.timeline.summary())}" if sig.timeline else ""
    return (
        f"• {sig.kind.value}"
        + (f" ({entity})" if entity else "")
        + f" ×{sig.count} — first at line {sig.first_line}, {clean(sig.source)}{code}{when}"
    )


def _overview(report: Report, clean: _Clean) -> list[Block]:
    lines = []
    if report.snapshot is not None:
        lines.append(_snapshot_line(report))
    if report.signals:
        lines.append("*In the pasted text*")
        lines.extend(_signal_text(s, clean) for s in report.signals)
    return sections("\n".join(lines)) if lines else []


def action_value(cluster: str, finding: Finding, action: ProposedAction) -> str:
    """What the approval flow needs, as JSON within Slack's 2000 characters: the cluster, the
    kind and its params. A long pid list is dropped first (the fix re-selects sessions by role,
    state and age on the live server anyway), then every param."""
    payload: dict[str, Any] = {
        "v": 1,
        "cluster": cluster,
        "finding": finding.code,
        "kind": action.kind.value,
        "params": action.params,
    }
    value = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        pids = action.params.get("pids")
        params = {k: v for k, v in action.params.items() if k != "pids"}
        payload["params"] = params
        if isinstance(pids, list):
            payload["pids_omitted"] = len(pids)
        value = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    if len(value) > MAX_BUTTON_VALUE:
        payload["params"] = {}
        payload["params_omitted"] = True
        value = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return value


def _action_blocks(report: Report, fi: int, finding: Finding, clean: _Clean) -> list[Block]:
    out: list[Block] = []
    for ai, action in enumerate(finding.actions):
        blocks = sections(f"*{clean(action.title)}*\n{clean(action.summary)}")
        if report.cluster is not None:
            button: Block = {
                "type": "button",
                "text": {"type": "plain_text", "text": "Request approval"},
                "action_id": f"{ACTION_PREFIX}{fi}.{ai}",
                "value": action_value(report.cluster, finding, action),
            }
            if action.kind in _DESTRUCTIVE:
                button["style"] = "danger"
            blocks[0]["accessory"] = button
        out.extend(blocks)
    if finding.actions and report.cluster is None:
        out.append(_context("_These fixes need a live cluster: run `/pgconn <cluster>`._"))
    return out


def _finding_blocks(report: Report, fi: int, finding: Finding, clean: _Clean) -> list[Block]:
    text = f"{_SEVERITY_ICON[finding.severity]} *{clean(finding.title)}*{_usage(finding)}"
    text += "".join(f"\n• {clean(e)}" for e in finding.evidence)
    out = sections(text)
    pb = finding.playbook
    if pb is not None:
        steps = [f"*Playbook: {clean(pb.title)}*"]
        if pb.now:
            steps.append("*Now*")
            steps.extend(f"{i}. {clean(s)}" for i, s in enumerate(pb.now, 1))
        if pb.prevent:
            steps.append("*Prevent*")
            steps.extend(f"• {clean(s)}" for s in pb.prevent)
        out.extend(sections("\n".join(steps)))
        for sql in pb.sql:
            label = f"{':warning: ' if sql.destructive else ''}_{clean(sql.purpose)}_"
            out.extend(_code(label, sql.statement, clean))
        if pb.withheld:
            out.extend(sections("_Not shown:_ " + "; ".join(clean(w) for w in pb.withheld)))
    out.extend(_action_blocks(report, fi, finding, clean))
    return out


def thread_messages(report: Report, secrets: Sequence[str] = ()) -> list[Message]:
    """The full report, as many thread messages as Slack's limits need."""
    clean = _Clean(secrets)
    groups = [_overview(report, clean)]
    groups.extend(_finding_blocks(report, i, f, clean) for i, f in enumerate(report.findings))
    if report.notes:
        groups.append(sections("*Notes*\n" + "\n".join(f"• {clean(n)}" for n in report.notes)))
    title = f"pgconn report for {report.cluster or 'pasted text'}"
    return paginate([g for g in groups if g], clean(title))


def paginate(groups: Iterable[list[Block]], title: str) -> list[Message]:
    """Pack groups of blocks into messages, keeping a group together when it fits in one, with
    a divider between groups and "part i of n" on each message when there are several."""
    room = MAX_BLOCKS - 1  # the part marker
    pages: list[list[Block]] = [[]]
    size = 0

    def fits(blocks: int, chars: int) -> bool:
        return len(pages[-1]) + blocks <= room and size + chars <= MAX_MESSAGE_CHARS

    for group in groups:
        divider = bool(pages[-1])
        if divider and not fits(len(group) + 1, sum(_chars(b) for b in group)):
            pages.append([])
            size, divider = 0, False
        for block in group:
            if pages[-1] and not fits(1 + divider, _chars(block)):
                pages.append([])
                size, divider = 0, False
            if divider:
                pages[-1].append({"type": "divider"})
                divider = False
            pages[-1].append(block)
            size += _chars(block)
    pages = [p for p in pages if p]
    if len(pages) > 1:
        for i, page in enumerate(pages, 1):
            page.append(_context(f"{title} · part {i} of {len(pages)}"))
    return [
        Message(f"{title}" + (f" (part {i} of {len(pages)})" if len(pages) > 1 else ""), page)
        for i, page in enumerate(pages, 1)
    ]


def report_messages(report: Report, secrets: Sequence[str] = ()) -> tuple[Message, list[Message]]:
    return summary_message(report, secrets), thread_messages(report, secrets)


# -- other messages --------------------------------------------------------------------------


def notice(mrkdwn: str) -> Message:
    """A message from already-escaped mrkdwn (callers escape what they interpolate)."""
    return Message(split_text(mrkdwn)[0] if mrkdwn.strip() else mrkdwn, sections(mrkdwn))


def _signals_phrase(found: Sequence[Signal], secrets: Sequence[str] = ()) -> str:
    """A one-line, escaped summary of what a paste contains: for the picker question."""
    clean = _Clean(secrets)
    parts = []
    for sig in found[:3]:
        name = sig.role or sig.database
        parts.append(sig.kind.value.replace("_", " ") + (f' "{clean(name)}"' if name else ""))
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return ", ".join(parts) + more


def cluster_picker(
    found: Sequence[Signal], clusters: Sequence[str], token: str, secrets: Sequence[str] = ()
) -> Message:
    """Which cluster is this paste about? A static select; the choice comes back as an action."""
    clean = _Clean(secrets)
    shown = list(clusters)[: MAX_OPTIONS - 1]
    options = [_option(clean.raw(c), c) for c in shown]
    options.append(_option("No cluster: explain the paste only", NO_CLUSTER))
    text = (
        f"I found {_signals_phrase(found, secrets)} in this message. "
        "Which cluster should I diagnose?"
    )
    if len(clusters) > len(shown):
        text += (
            f"\n_{len(clusters) - len(shown)} more cluster(s) are not in the list; "
            "use `/pgconn <cluster>` for those._"
        )
    block = section(text)
    block["block_id"] = PICK_BLOCK_PREFIX + token
    block["accessory"] = {
        "type": "static_select",
        "action_id": PICK_ACTION,
        "placeholder": {"type": "plain_text", "text": "Choose a cluster"},
        "options": options,
    }
    return Message("Which cluster is this about?", [block])


def _option(label: str, value: str) -> dict[str, Any]:
    if len(value) > MAX_OPTION_VALUE:
        raise ValueError(f"option value of {len(value)} characters")
    text = label if len(label) <= MAX_OPTION_TEXT else label[: MAX_OPTION_TEXT - 1] + "…"
    return {"text": {"type": "plain_text", "text": text}, "value": value}


@dataclass(frozen=True)
class ClusterRow:
    """One line of `/pgconn list`: a cluster and its quick report, or why there is none."""

    name: str
    report: Report | None
    error: str | None = None


def cluster_list(
    rows: Sequence[ClusterRow], hidden: int = 0, secrets: Sequence[str] = ()
) -> list[Message]:
    """Clusters with their headroom, least headroom first; those without live data last."""
    clean = _Clean(secrets)

    def key(row: ClusterRow) -> tuple[int, float, str]:
        snap = row.report.snapshot if row.report else None
        if snap is None:
            return (1, 0.0, row.name)
        return (0, 1.0 - snap.server_headroom().share, row.name)

    lines = []
    for row in sorted(rows, key=key):
        report = row.report
        if report is None:
            lines.append(f":warning: *{clean(row.name)}* — {clean(row.error or 'no report')}")
            continue
        snap = report.snapshot
        numbers = "no live data"
        if snap is not None:
            numbers = "server slots: " + snap.server_headroom().figures()
        lines.append(f"{_icon(report)} *{clean(row.name)}* — {numbers} · {clean(report.headline)}")
    if not lines:
        lines.append("No cluster may be used from this channel.")
    if hidden:
        lines.append(f"_{hidden} more cluster(s) are bound to other channels._")
    groups = [sections(piece) for piece in split_text("\n".join(lines))]
    return paginate(groups, "pgconn clusters")


def progress_message(label: str, done: int, total: int | None) -> Message:
    """ "Scanning app.log… 42%": `label` is mrkdwn, escaped by the caller."""
    mb = done / 1e6
    if total:
        text = (
            f":hourglass_flowing_sand: Scanning {label}… {min(done * 100 // total, 100)}% "
            f"({mb:.0f} of {total / 1e6:.0f} MB)"
        )
    else:
        text = f":hourglass_flowing_sand: Scanning {label}… {mb:.0f} MB"
    return notice(text)
