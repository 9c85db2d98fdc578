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
from datetime import UTC, datetime
from typing import Any

from bot.redact import redact_text
from bot.render import answer
from bot.signals.model import Signal
from bot.triage.model import Finding, ProposedAction, Report, Severity
from bot.triage.units import human_duration

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
CARD_BLOCK = "pgconn.card"
FIX_BLOCK_PREFIX = "pgconn.fix:"
NO_ANGLES = str.maketrans({"<": "‹", ">": "›"})
MAX_FIELD = 2000  # Slack's limit for one field of a section
PICK_ACTION = "pgconn.pick_cluster"
PICK_BLOCK_PREFIX = "pgconn.pick:"
NO_CLUSTER = "-"  # picker option: explain the paste without live data
_CONTINUED = "_(continued)_"

_SEVERITY_ICON = {
    Severity.CRITICAL: ":red_circle:",
    Severity.WARNING: ":large_orange_circle:",
    Severity.INFO: ":large_blue_circle:",
}


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


def _icon(report: Report) -> str:
    if not report.findings:
        return ":white_check_mark:"
    return _SEVERITY_ICON[max(f.severity for f in report.findings)]


def _where(report: Report, clean: _Clean) -> str:
    return f"*{clean(report.cluster)}*" if report.cluster else "*your paste*"


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M UTC")


def _live_line(report: Report, full: answer.Fullness | None) -> str:
    """The server's slots, unless the card is already about them."""
    snap = report.snapshot
    if snap is None:
        return ":warning: No live data"
    if full is not None and full.kind == "server":
        return ""
    return "Server slots: " + snap.server_headroom().figures()


def _fix_button(
    report: Report, fix: answer.Fix, *, primary: bool = False, incident: str | None = None
) -> Block:
    assert report.cluster is not None
    button: Block = {
        "type": "button",
        # Plain text is not parsed by Slack; a name's angle brackets are still kept out.
        "text": {"type": "plain_text", "text": fix.label.translate(NO_ANGLES)},
        "action_id": f"{ACTION_PREFIX}{fix.finding_index}.{fix.action_index}",
        "value": action_value(report.cluster, fix.finding, fix.action),
    }
    if primary:
        button["style"] = "primary"
    return button


def _card_fields(report: Report, clean: _Clean, since: float | None) -> list[str]:
    top = report.findings[0]
    fields = []
    full = answer.fullness(top, report.snapshot)
    if full is not None:
        name = "Full" if not full.has_room else "In use"
        fields.append(f"*{name}*\n{clean(full.what())} · {full.numbers()}")
    held = answer.holders(top, report.snapshot)
    if held:
        fields.append("*Held by*\n" + "\n".join(clean(h) for h in held))
    if since is not None:
        fields.append(f"*Since*\n{_clock(since)} (first report)")
    elif report.snapshot is not None:
        fields.append(
            f"*Since*\n{report.snapshot.taken_at.astimezone(UTC):%H:%M UTC} (this report)"
        )
    if report.signals:
        sig = report.signals[0]
        fields.append(
            f"*Your paste*\n`{clean(answer.paste_excerpt(sig, 90))}`, "
            f"{clean(answer.paste_quote(sig))}"
        )
    return fields[:4]


def summary_message(
    report: Report, secrets: Sequence[str] = (), since: float | None = None
) -> Message:
    """The incident card: the headline, three or four fields, the primary fix as a button."""
    clean = _Clean(secrets)
    headline = answer.plain_words(report.headline)
    full = answer.fullness(report.findings[0], report.snapshot) if report.findings else None
    if full is not None:
        # The "Full" field shows these numbers; the headline need not say them again.
        headline = headline.replace(f" ({full.used}/{full.limit})", "")
    head = f"{_icon(report)} {_where(report, clean)} · {clean(headline)}"
    blocks = sections(head)
    if report.findings:
        fields = [
            _mrkdwn(f if len(f) <= MAX_FIELD else f[: MAX_FIELD - 1] + "…")
            for f in _card_fields(report, clean, since)
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields})
        found = answer.fixes(report)
        if found and report.cluster is not None:
            blocks.append(
                {
                    "type": "actions",
                    "block_id": CARD_BLOCK,
                    "elements": [_fix_button(report, found[0], primary=True)],
                }
            )
    top = report.findings[0] if report.findings else None
    tail = [_live_line(report, answer.fullness(top, report.snapshot) if top else None)]
    if report.findings:
        more = len(answer.fixes(report)) - 1 if report.cluster else 0
        tail.append(
            f"{answer.plural(more, 'more fix', 'more fixes')}, evidence and queries in the thread"
            if more > 0
            else "evidence and queries in the thread"
        )
    line = " · ".join(t for t in tail if t)
    blocks.append(_context(clean(line[:1].upper() + line[1:])))
    fallback = f"{report.cluster or 'your paste'}: {answer.plain_words(report.headline)}"
    return Message(split_text(clean(fallback))[0], blocks)


def closed_card(
    cluster: str,
    before: answer.Fullness,
    after: answer.Fullness,
    how: str,
    link: str | None,
    secrets: Sequence[str] = (),
    approver: str | None = None,
    link_label: str = "See the result",
) -> Message:
    """The incident card once a fix ran or a later diagnosis shows room again."""
    clean = _Clean(secrets)
    icon = ":white_check_mark:" if after.has_room else ":warning:"
    state = "has room again" if after.has_room else "is still full"
    head = (
        f"{icon} *{clean(cluster)}* · {clean(after.what()).capitalize()} {state}: "
        f"{before.numbers()} → {after.numbers()}"
    )
    lines = [clean(how)]
    if approver:
        lines.append(f"approved by <@{escape(approver)}>")
    if link:
        lines.append(f"<{escape(link)}|{escape(link_label)}>")
    blocks = sections(head)
    blocks.append(_context(" · ".join(lines)))
    return Message(split_text(clean(f"{cluster}: {after.what()} {state}"))[0], blocks)


def repeat_message(
    report: Report,
    *,
    age_s: float,
    link: str | None,
    before: answer.Fullness | None,
    seen: set[str],
    previous_headline: str,
    secrets: Sequence[str] = (),
) -> Message:
    """A cluster reported minutes ago: a link to that thread and only what is new."""
    clean = _Clean(secrets)
    cluster = clean(report.cluster or "")
    thread = f"<{escape(link)}|in this thread>" if link else "in its thread"
    lines = [
        f":leftwards_arrow_with_hook: *{cluster}* was reported {human_duration(age_s)} ago; "
        f"the incident is {thread}."
    ]
    snap = report.snapshot
    now = answer.fullness_now(before.kind, before.name, snap) if before and snap else None
    news = False
    if before is not None and now is not None:
        news = now.numbers() != before.numbers()
        change = f"was {before.numbers()}" if news else "unchanged"
        lines.append(f"Now: {clean(now.what())} · {now.numbers()} ({change})")
    elif report.findings and report.headline != previous_headline:
        news = True
        lines.append(f"Now: {clean(answer.plain_words(report.headline))}")
    new = [s for s in report.signals if answer.signal_key(s) not in seen]
    lines.extend(
        f"New in your paste: `{clean(answer.paste_excerpt(s))}`, {clean(answer.paste_quote(s))}"
        for s in new[:3]
    )
    if not news and not new:
        lines.append("Nothing new since then.")
    blocks = sections("\n".join(lines))
    blocks.append(_context(f"`/pgconn {cluster} fresh` posts a full report."))
    return Message(split_text(f"{cluster} was reported {human_duration(age_s)} ago")[0], blocks)


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


def _do_now(report: Report, clean: _Clean) -> list[Block]:
    """Each fix with its button, what it matches now and its one statement; without a live
    cluster, the headline finding's first steps."""
    out = sections("*Do now*")
    found = answer.fixes(report) if report.cluster is not None else []
    for i, fix in enumerate(found):
        # The button on its own row: beside a text it squeezes both into half the thread pane.
        out.append(
            {
                "type": "actions",
                "block_id": f"{FIX_BLOCK_PREFIX}{i}",
                "elements": [_fix_button(report, fix)],
            }
        )
        out.extend(sections(clean(fix.matches)))
        if fix.statement:
            out.extend(_code("", fix.statement, clean))
    if not found:
        top = report.findings[0] if report.findings else None
        steps = top.playbook.now if top and top.playbook else ()
        if steps:
            lines = [f"{i}. {clean(answer.plain_words(s))}" for i, s in enumerate(steps, 1)]
            out.extend(sections("\n".join(lines)))
        if any(f.actions for f in report.findings):
            name = clean(report.cluster) if report.cluster else "CLUSTER"
            out.append(_context(f"_The fixes need live data: run `/pgconn {name}`._"))
    return out if len(out) > 1 else []


def _evidence(report: Report, clean: _Clean) -> list[list[Block]]:
    groups: list[list[Block]] = []
    if report.signals:
        lines = ["*In your paste*"]
        lines.extend(
            f"• `{clean(answer.paste_excerpt(s))}`, {clean(answer.paste_quote(s))}"
            for s in report.signals
        )
        groups.append(sections("\n".join(lines)))
    shown = {_same(f.statement) for f in answer.fixes(report) if f.statement}
    if report.cluster is None:
        shown = set()
    for finding in report.findings:
        groups.append(_finding_blocks(finding, clean, shown))
    return groups


def _same(statement: str) -> str:
    return " ".join(statement.rstrip().rstrip(";").split()).lower()


def _finding_blocks(finding: Finding, clean: _Clean, fixes_shown: set[str]) -> list[Block]:
    text = f"{_SEVERITY_ICON[finding.severity]} *{clean(answer.plain_words(finding.title))}*"
    text += "".join(f"\n• {clean(answer.plain_words(e))}" for e in finding.evidence)
    out = sections(text)
    pb = finding.playbook
    if pb is not None:
        if pb.now:
            steps = ["*Steps*"]
            steps.extend(f"{i}. {clean(answer.plain_words(s))}" for i, s in enumerate(pb.now, 1))
            out.extend(sections("\n".join(steps)))
        for sql in pb.sql:
            if fixes_shown and (
                (sql.destructive and finding.actions) or _same(sql.statement) in fixes_shown
            ):
                continue  # a fix in "Do now", behind its button, stands for it
            mark = ":warning: " if sql.destructive else ""
            label = f"{mark}_{clean(answer.plain_words(sql.purpose))}_"
            out.extend(_code(label, sql.statement, clean))
        hidden = answer.withheld(pb.withheld)
        if hidden:
            text = "Not shown until pgconn has the values: " + "; ".join(hidden)
            out.append(_context(clean(text)))
    return out


def thread_messages(report: Report, secrets: Sequence[str] = ()) -> list[Message]:
    """The thread: "Do now" first (its own message), then the evidence and the queries, then
    Prevent once, then notes; as many messages as Slack's limits need."""
    clean = _Clean(secrets)
    title = clean(f"pgconn report for {report.cluster or 'your paste'}")
    first = _do_now(report, clean)
    groups = _evidence(report, clean)
    advice = answer.prevent(report)
    if advice:
        groups.append(sections("*Prevent*\n" + "\n".join(f"• {clean(a)}" for a in advice)))
    if report.notes:
        groups.append(
            sections(
                "*Notes*\n" + "\n".join(f"• {clean(answer.plain_words(n))}" for n in report.notes)
            )
        )
    return paginate([g for g in groups if g], title, first=first)


def paginate(
    groups: Iterable[list[Block]], title: str, *, first: list[Block] | None = None
) -> list[Message]:
    """Pack groups of blocks into messages, keeping a group together when it fits in one, with
    a divider between groups and "part i of n" on each message when there are several. `first`
    is packed on its own page(s) ahead of the rest (a thread's "Do now")."""
    pages = _pack([first], MAX_BLOCKS - 1) if first else []
    pages += _pack(groups, MAX_BLOCKS - 1)  # room for the part marker
    if len(pages) > 1:
        for i, page in enumerate(pages, 1):
            page.append(_context(f"{title} · part {i} of {len(pages)}"))
    return [
        Message(f"{title}" + (f" (part {i} of {len(pages)})" if len(pages) > 1 else ""), page)
        for i, page in enumerate(pages, 1)
    ]


def _pack(groups: Iterable[list[Block]], room: int) -> list[list[Block]]:
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
    return [p for p in pages if p]


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
        parts.append(answer.kind_words(sig.kind) + (f' ("{clean(name)}")' if name else ""))
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
            f"\n_{answer.plural(len(clusters) - len(shown), 'more cluster')} not in the list; "
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
        lines.append(f"_{answer.plural(hidden, 'more cluster')} bound to other channels._")
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
