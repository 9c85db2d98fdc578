"""Block Kit for approval-gated fixes: the request (the action, its blast radius, the targets
grouped, Approve / Reject right under them, the plain statement; the guarded statement that
runs on demand), the request once decided, the result with the fresh headroom, and refusals.
Pure functions.

Everything from a server or a request (role names, queries, reasons) is redacted, then escaped;
user and group IDs become Slack mentions.
"""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from bot.redact import redact_text
from bot.remediation.model import ExecutionResult, Proposal
from bot.remediation.policy import Policy
from bot.remediation.text import when
from bot.render.answer import plain_words, plural
from bot.render.blocks import MAX_SECTION, NO_ANGLES, Block, Message, escape, section, sections
from bot.render.blocks import split_text as _split
from bot.store import ApprovalRequest, ApprovalStatus
from bot.triage.model import ActionKind
from bot.triage.units import human_duration

APPROVE_ACTION = "pgconn.approval.approve"
REJECT_ACTION = "pgconn.approval.reject"
SHOW_SQL_ACTION = "pgconn.approval.show_sql"
APPROVAL_BLOCK_PREFIX = "pgconn.approval:"
# Within Slack's 50 blocks per message, whatever the number of targets: a longer list or
# statement is cut, saying so (the audit log keeps them whole).
MAX_TARGET_BLOCKS = 20
MAX_CODE_BLOCKS = 15


def user(user_id: str) -> str:
    return f"<@{escape(user_id)}>"


def group(group_id: str) -> str:
    return f"<!subteam^{escape(group_id)}>"


def who_may_approve(policy: Policy) -> str:
    """`<@U1> or members of <!subteam^S1> (never the requester)`."""
    return policy.who(user, group)


class _Clean:
    def __init__(self, secrets: Sequence[str]) -> None:
        self.secrets = list(secrets)

    def __call__(self, text: str) -> str:
        return escape(redact_text(text, self.secrets))


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text, "verbatim": True}]}


def _capped(pieces: list[str], cap: int, what: str) -> list[str]:
    """At most `cap` pieces; the last says how much was left out and where to find it."""
    if len(pieces) <= cap:
        return pieces
    return [*pieces[: cap - 1], f"… {what} cut here; `pgconn audit` has all of it."]


def _code(label: str, code: str, secrets: Sequence[str]) -> list[Block]:
    """`label`, then the statement in code blocks. A statement holding a fence (a name with
    backticks) is shown as preformatted rich text instead, which needs no escaping."""
    plain = redact_text(code, secrets)
    out = sections(label)
    if "```" in plain:
        for piece in _capped(_split(plain), MAX_CODE_BLOCKS, "the statement is"):
            text = {"type": "text", "text": piece}
            out.append(
                {
                    "type": "rich_text",
                    "elements": [{"type": "rich_text_preformatted", "elements": [text]}],
                }
            )
        return out
    pieces = _capped(_split(escape(plain), MAX_SECTION - 6), MAX_CODE_BLOCKS, "the statement is")
    out.extend(section(f"```{piece}```") for piece in pieces)
    return out


def action_text(proposal: Proposal) -> str:
    """What the fix does, in a few words: `Terminate 5 sessions of app_user`."""
    if proposal.on_sessions:
        n = len(proposal.targets)
        roles = sorted({t.role or "?" for t in proposal.targets})
        who = ", ".join(roles[:3]) + (f" and {len(roles) - 3} more roles" if len(roles) > 3 else "")
        if proposal.kind is ActionKind.CANCEL:
            return f"Cancel the queries of {plural(n, 'session')} of {who}"
        return f"Terminate {plural(n, 'session')} of {who}"
    c = proposal.change
    if c is None:
        return plain_words(proposal.title)
    name = c.name if c.object_kind == "role" else f"database {c.name}"
    if c.setting == "CONNECTION LIMIT":
        verb = (
            "Raise"
            if isinstance(c.before, int) and isinstance(c.after, int) and c.after > c.before
            else "Set"
        )
        return f"{verb} {name}'s connection limit {c.before} → {c.after}"
    return f"Set {c.setting} = {c.after} for {name}"


def target_groups(proposal: Proposal) -> list[str]:
    """Targets grouped: `checkout · 10.0.3.4 · idle — 5 sessions, idle 3–25 min`."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for t in proposal.targets:
        key = (t.application or "no application name", t.client, t.state or "state hidden")
        groups.setdefault(key, []).append(t.state_age_s)
    out = []
    for (app, client, state), ages in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        low, high = human_duration(min(ages)), human_duration(max(ages))
        span = low if low == high else f"{low} to {high}"
        out.append(f"{app} · {client} · {state} — {plural(len(ages), 'session')}, for {span}")
    return out


def plain_statement(req: ApprovalRequest, proposal: Proposal) -> str:
    """The statement in its readable form: for sessions, the signal on the exact pids (what
    runs also checks that each pid is still the session shown); else the statement itself."""
    if not proposal.on_sessions or not proposal.targets:
        return req.statement
    fn = "pg_cancel_backend" if proposal.kind is ActionKind.CANCEL else "pg_terminate_backend"
    pids = sql.SQL(", ").join(sql.Literal(t.pid) for t in proposal.targets)
    return (
        sql.SQL("SELECT {}(pid) FROM pg_stat_activity WHERE pid IN ({});")
        .format(sql.SQL(fn), pids)
        .as_string(None)
    )


def _targets(proposal: Proposal, clean: _Clean) -> list[Block]:
    if not proposal.targets:
        return []
    lines = [f"• {clean(g)}" for g in target_groups(proposal)]
    pieces = _capped(_split("\n".join(lines)), MAX_TARGET_BLOCKS, "the list is")
    return [section(piece) for piece in pieces]


def _change(proposal: Proposal, clean: _Clean) -> list[Block]:
    c = proposal.change
    if c is None:
        return []
    now = (
        f" ({plural(c.current_sessions, 'session')} now)" if c.current_sessions is not None else ""
    )
    return sections(
        f"• {clean(c.object_kind)} {clean(c.name)}{now}: {clean(c.setting)} "
        f"{clean(str(c.before))} → {clean(str(c.after))}"
    )


def _body(
    req: ApprovalRequest, proposal: Proposal, clean: _Clean, secrets: Sequence[str]
) -> list[Block]:
    """Blast radius and targets: what the approver decides on."""
    blocks = sections(clean(plain_words(proposal.blast_radius)))
    blocks += _targets(proposal, clean) or _change(proposal, clean)
    if proposal.notes:
        blocks += sections("\n".join(f":warning: {clean(plain_words(n))}" for n in proposal.notes))
    return blocks


def _statement(req: ApprovalRequest, proposal: Proposal, secrets: Sequence[str]) -> list[Block]:
    return _code("*Runs*", plain_statement(req, proposal), secrets)


def _head(
    req: ApprovalRequest, proposal: Proposal, clean: _Clean, icon: str, status: str
) -> list[Block]:
    return sections(f"{icon} *{status}* · {clean(action_text(proposal))} on *{clean(req.cluster)}*")


def _who(req: ApprovalRequest, clean: _Clean) -> str:
    return (
        f"Requested by {user(req.requester)} at {when(req.created_at)} · request `{clean(req.id)}`"
    )


def request_message(
    req: ApprovalRequest, proposal: Proposal, policy: Policy, secrets: Sequence[str] = ()
) -> Message:
    """The approval request posted in the incident thread: the action, the blast radius, the
    targets, Approve and Reject right under them, then the plain statement."""
    clean = _Clean(secrets)
    minutes = human_duration(max(req.expires_at - req.created_at, 0))
    blocks = _head(req, proposal, clean, ":lock:", "Approval needed")
    blocks += _body(req, proposal, clean, secrets)
    what = action_text(proposal)
    # Plain text is not parsed by Slack, but a name's angle brackets are still kept out of it.
    question = f"{what} on {req.cluster}?".translate(NO_ANGLES)
    confirm = {
        "title": {"type": "plain_text", "text": "Run this fix?"},
        "text": {"type": "plain_text", "text": question[:300]},
        "confirm": {"type": "plain_text", "text": "Approve and run"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    elements: list[Block] = [
        {
            "type": "button",
            "action_id": APPROVE_ACTION,
            "value": req.id,
            "style": "primary",
            "text": {"type": "plain_text", "text": "Approve"},
            "confirm": confirm,
        },
        {
            "type": "button",
            "action_id": REJECT_ACTION,
            "value": req.id,
            "text": {"type": "plain_text", "text": "Reject"},
        },
    ]
    if proposal.on_sessions:
        elements.append(
            {
                "type": "button",
                "action_id": SHOW_SQL_ACTION,
                "value": req.id,
                "text": {"type": "plain_text", "text": "Show the SQL that runs"},
            }
        )
    blocks.append(
        {"type": "actions", "block_id": APPROVAL_BLOCK_PREFIX + req.id, "elements": elements}
    )
    blocks += _statement(req, proposal, secrets)
    blocks.append(
        _context(
            f"{_who(req, clean)} · Who may approve: {who_may_approve(policy)}. Expires at "
            f"{when(req.expires_at)} (in {minutes}); nothing runs before an approval."
        )
    )
    title = f"Approval needed on {clean(req.cluster)}: {clean(what)}"
    return Message(_split(title, 300)[0], blocks)


def guarded_sql_message(req: ApprovalRequest, secrets: Sequence[str] = ()) -> Message:
    """Ephemeral, on "Show the SQL that runs": the exact statement, with its checks."""
    blocks = _code(
        "*The statement that runs* (through the admin connection; it signals each pid only if "
        "it is still the session shown, and never pgconn's own or a superuser's)",
        req.statement,
        secrets,
    )
    return Message("The statement that runs", blocks[: MAX_CODE_BLOCKS + 1])


_STATUS = {
    ApprovalStatus.APPROVED: (":hourglass_flowing_sand:", "Approved, running"),
    ApprovalStatus.DONE: (":white_check_mark:", "Approved and run"),
    ApprovalStatus.FAILED: (":warning:", "Approved, but it failed"),
    ApprovalStatus.REJECTED: (":no_entry_sign:", "Rejected"),
    ApprovalStatus.EXPIRED: (":hourglass:", "Expired"),
    ApprovalStatus.PENDING: (":lock:", "Approval needed"),
}


def decided_message(
    req: ApprovalRequest, proposal: Proposal, secrets: Sequence[str] = ()
) -> Message:
    """The request once decided: the same content, no buttons, and who decided what."""
    clean = _Clean(secrets)
    icon, status = _STATUS[req.status]
    blocks = _head(req, proposal, clean, icon, status)
    if req.status is ApprovalStatus.EXPIRED:
        line = (
            f"Nobody approved it before {when(req.expires_at)}: nothing ran. Diagnose "
            "again and request a new fix if it is still needed."
        )
    elif req.status is ApprovalStatus.REJECTED:
        line = f"Rejected by {user(req.decided_by or '?')}: nothing ran."
    else:
        line = f"Approved by {user(req.decided_by or '?')}; the result is in this thread."
    blocks += sections(line)
    blocks += _body(req, proposal, clean, secrets)
    blocks += _statement(req, proposal, secrets)
    blocks.append(_context(_who(req, clean)))
    return Message(_split(f"{status}: {clean(action_text(proposal))}", 300)[0], blocks)


def result_message(
    req: ApprovalRequest, proposal: Proposal, result: ExecutionResult, secrets: Sequence[str] = ()
) -> Message:
    """After the fix: what ran, what it freed, what it left alone and why, the headroom now."""
    clean = _Clean(secrets)
    lines = [
        f":white_check_mark: *Fix ran on {clean(req.cluster)}*: {clean(action_text(proposal))}",
        f"Approved by {user(req.decided_by or '?')}, requested by {user(req.requester)}.",
    ]
    if result.signalled:
        verb = "Cancelled the query of" if proposal.kind.value == "cancel" else "Terminated"
        pids = ", ".join(str(p) for p in result.signalled)
        lines.append(f"*Ran:* the statement of the request. {verb} pid {pids}.")
    elif result.changed:
        lines.append(f"*Ran:* `{clean(result.statement)}`")
    else:
        lines.append("*Ran:* nothing was changed.")
    lines.append(f"*{result.outcome_label}:* {clean(plain_words(result.freed))}")
    if result.skipped:
        lines.append("*Left alone* (changed since the request):")
        lines += [
            f"• {f'pid {s.pid}: ' if s.pid else ''}{clean(plain_words(s.reason))}"
            for s in result.skipped
        ]
    if result.headroom:
        lines.append("*Headroom now* (fresh diagnosis):")
        lines += [f"• {clean(plain_words(h))}" for h in result.headroom]
    blocks = [section(p) for p in _capped(_split("\n".join(lines)), MAX_TARGET_BLOCKS, "this")]
    return Message(f"Fix ran on {clean(req.cluster)}", blocks)


def failed_message(
    req: ApprovalRequest, proposal: Proposal, error: str, secrets: Sequence[str] = ()
) -> Message:
    clean = _Clean(secrets)
    text = (
        f":warning: *Fix failed on {clean(req.cluster)}*: {clean(action_text(proposal))}\n"
        f"Approved by {user(req.decided_by or '?')}. {clean(error)}"
    )
    return Message(f"Fix failed on {clean(req.cluster)}", sections(text))


def refusal_message(
    reason: str, policy: Policy | None, verb: str = "approve", secrets: Sequence[str] = ()
) -> Message:
    """Ephemeral: why this person may not approve (or reject), and who may."""
    clean = _Clean(secrets)
    text = f":no_entry_sign: You may not {verb} this fix: {clean(reason)}."
    if policy is not None:
        text += f"\nWho may approve: {who_may_approve(policy)}."
    return Message(f"You may not {verb} this fix", sections(text))


def status_notice(req: ApprovalRequest, secrets: Sequence[str] = ()) -> Message:
    """Ephemeral, to someone clicking a request that is no longer open."""
    by = user(req.decided_by) if req.decided_by else "someone"
    text = {
        ApprovalStatus.PENDING: "This request is still waiting for an approver.",
        ApprovalStatus.APPROVED: f"This request was approved by {by} and is running.",
        ApprovalStatus.DONE: f"This request was approved by {by} and has run; the result is "
        "in the thread.",
        ApprovalStatus.FAILED: f"This request was approved by {by} but failed; see the thread.",
        ApprovalStatus.REJECTED: f"This request was rejected by {by}: nothing ran.",
        ApprovalStatus.EXPIRED: "This request has expired: nothing ran. Diagnose again and "
        "request a new fix if it is still needed.",
    }[req.status]
    return Message(text, sections(text))
