"""Block Kit for approval-gated fixes: the request (exact targets, SQL, Approve / Reject), the
request once decided, the result with the fresh headroom, and refusals. Pure functions.

Everything from a server or a request (role names, queries, reasons) is redacted, then escaped;
user and group IDs become Slack mentions.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.redact import redact_text
from bot.remediation.model import ExecutionResult, Proposal
from bot.remediation.policy import Policy
from bot.remediation.text import target_line, when
from bot.render.blocks import MAX_SECTION, Block, Message, escape, section, sections
from bot.render.blocks import split_text as _split
from bot.store import ApprovalRequest, ApprovalStatus
from bot.triage.units import human_duration

APPROVE_ACTION = "pgconn.approval.approve"
REJECT_ACTION = "pgconn.approval.reject"
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


def _targets(proposal: Proposal, clean: _Clean) -> list[Block]:
    if not proposal.targets:
        return []
    lines = [f"*Sessions it signals ({len(proposal.targets)})*"]
    lines += [f"• {clean(target_line(t))}" for t in proposal.targets]
    pieces = _capped(_split("\n".join(lines)), MAX_TARGET_BLOCKS, "the list is")
    return [section(piece) for piece in pieces]


def _body(
    req: ApprovalRequest, proposal: Proposal, clean: _Clean, secrets: Sequence[str]
) -> list[Block]:
    blocks = sections(clean(proposal.blast_radius))
    blocks += _targets(proposal, clean)
    if proposal.notes:
        blocks += sections("\n".join(f":warning: {clean(n)}" for n in proposal.notes))
    blocks += _code("*SQL that runs* (through the admin connection)", req.statement, secrets)
    return blocks


def _head(
    req: ApprovalRequest, proposal: Proposal, clean: _Clean, icon: str, status: str
) -> list[Block]:
    head = sections(f"{icon} *{status}* — {clean(proposal.title)}")
    head.append(
        _context(
            f"Requested by {user(req.requester)} on *{clean(req.cluster)}* at "
            f"{when(req.created_at)} · request `{clean(req.id)}`"
        )
    )
    return head


def request_message(
    req: ApprovalRequest, proposal: Proposal, policy: Policy, secrets: Sequence[str] = ()
) -> Message:
    """The approval request posted in the incident thread, with Approve and Reject."""
    clean = _Clean(secrets)
    minutes = human_duration(max(req.expires_at - req.created_at, 0))
    blocks = _head(req, proposal, clean, ":lock:", "Approval needed")
    blocks += _body(req, proposal, clean, secrets)
    blocks.append(
        _context(
            f"Who may approve: {who_may_approve(policy)}. Expires at {when(req.expires_at)} "
            f"(in {minutes}); nothing runs before an approval."
        )
    )
    confirm = {
        "title": {"type": "plain_text", "text": "Run this fix?"},
        "text": {
            "type": "plain_text",
            "text": f"It runs on {req.cluster[:60]} now, through the admin connection.",
        },
        "confirm": {"type": "plain_text", "text": "Approve and run"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    blocks.append(
        {
            "type": "actions",
            "block_id": APPROVAL_BLOCK_PREFIX + req.id,
            "elements": [
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
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                },
            ],
        }
    )
    title = f"Approval needed on {clean(req.cluster)}: {clean(proposal.title)}"
    return Message(_split(title, 300)[0], blocks)


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
    return Message(_split(f"{status}: {clean(proposal.title)}", 300)[0], blocks)


def result_message(
    req: ApprovalRequest, proposal: Proposal, result: ExecutionResult, secrets: Sequence[str] = ()
) -> Message:
    """After the fix: what ran, what it freed, what it left alone and why, the headroom now."""
    clean = _Clean(secrets)
    lines = [
        f":white_check_mark: *Fix ran on {clean(req.cluster)}*: {clean(proposal.title)}",
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
    lines.append(f"*{result.outcome_label}:* {clean(result.freed)}")
    if result.skipped:
        lines.append("*Left alone* (changed since the request):")
        lines += [f"• {f'pid {s.pid}: ' if s.pid else ''}{clean(s.reason)}" for s in result.skipped]
    if result.headroom:
        lines.append("*Headroom now* (fresh diagnosis):")
        lines += [f"• {clean(h)}" for h in result.headroom]
    blocks = [section(p) for p in _capped(_split("\n".join(lines)), MAX_TARGET_BLOCKS, "this")]
    return Message(f"Fix ran on {clean(req.cluster)}", blocks)


def failed_message(
    req: ApprovalRequest, proposal: Proposal, error: str, secrets: Sequence[str] = ()
) -> Message:
    clean = _Clean(secrets)
    text = (
        f":warning: *Fix failed on {clean(req.cluster)}*: {clean(proposal.title)}\n"
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
