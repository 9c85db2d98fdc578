"""Approval messages stay within Slack's limits and show names safely, whatever they hold."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.config import parse
from bot.remediation import Criteria, ExecutionResult, Policy, Proposal, Skipped, Target
from bot.render import approval_blocks as ab
from bot.render.blocks import MAX_BLOCKS, MAX_SECTION
from bot.store import ApprovalRequest, ApprovalStatus
from bot.triage.model import ActionKind

HOSTILE_ROLE = "<!channel> ```x``` & *bold*"
SECRET = "Sup3r-Secret-Pw"
START = datetime(2026, 11, 22, 1, 0, 0, tzinfo=UTC)


def _targets(n: int) -> tuple[Target, ...]:
    return tuple(
        Target(
            pid=1000 + i,
            backend_start=START,
            role=HOSTILE_ROLE,
            database="appdb",
            application=f"app password={SECRET}",
            client="10.0.0.1",
            state="idle",
            state_age_s=900.0,
        )
        for i in range(n)
    )


def _request(
    n: int, statement: str = "SELECT pg_terminate_backend(1)"
) -> tuple[ApprovalRequest, Proposal]:
    proposal = Proposal(
        cluster="prod",
        kind=ActionKind.TERMINATE,
        title=f"Terminate {n} session(s)",
        statement=statement,
        blast_radius=f"Ends {n} session(s) of {HOSTILE_ROLE}.",
        criteria=Criteria(role=HOSTILE_ROLE, states=("idle",)),
        targets=_targets(n),
    )
    req = ApprovalRequest(
        id="abc123",
        cluster="prod",
        action="terminate",
        params=proposal.to_json(),
        targets=[t.to_json() for t in proposal.targets],
        statement=statement,
        requester="UREQ",
        status=ApprovalStatus.PENDING,
        created_at=1_800_000_000.0,
        expires_at=1_800_000_900.0,
        channel="C1",
        thread_ts="1.1",
    )
    return req, proposal


def _policy() -> Policy:
    config = parse(
        {
            "clusters": {"prod": {"dsn": "host=db", "admin_dsn": "host=db"}},
            "approvers": ["UDBA"],
            "approver_usergroup": "SONCALL",
        },
        env={},
    )
    return Policy.for_cluster(config, "prod")


def _check_limits(blocks: list[dict[str, Any]]) -> str:
    assert len(blocks) <= MAX_BLOCKS
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= MAX_SECTION
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "<!channel>" not in shown
    assert SECRET not in shown
    return shown


@pytest.mark.parametrize("n", [1, 50, 400])
def test_request_message_fits_and_escapes(n: int) -> None:
    statement = "SELECT " + ", ".join(f"pg_terminate_backend({1000 + i})" for i in range(n))
    req, proposal = _request(n, statement)
    message = ab.request_message(req, proposal, _policy(), [SECRET])
    shown = _check_limits(message.blocks)
    assert "&lt;!channel&gt;" in shown
    [actions] = [b for b in message.blocks if b["type"] == "actions"]
    values = {e["action_id"]: e["value"] for e in actions["elements"]}
    assert values == {
        ab.APPROVE_ACTION: "abc123",
        ab.REJECT_ACTION: "abc123",
        ab.SHOW_SQL_ACTION: "abc123",
    }
    # Approve and Reject come before the statement; Reject is not styled as destructive.
    assert message.blocks.index(actions) < len(message.blocks) - 2
    approve, reject, _ = actions["elements"]
    assert "style" not in reject
    assert approve["confirm"]["text"]["text"].startswith("Terminate ")
    assert "<@UDBA> or members of <!subteam^SONCALL> (never the requester)" in shown
    # The targets grouped; the plain statement names every pid.
    assert f"{'1 session' if n == 1 else f'{n} sessions'}" in shown
    assert "(1000" in shown and f"{1000 + n - 1}" in shown


def test_a_statement_with_fences_is_shown_as_preformatted_text() -> None:
    req, _ = _request(1, 'ALTER ROLE "```x```" CONNECTION LIMIT 5')
    message = ab.guarded_sql_message(req)
    pre = [b for b in message.blocks if b["type"] == "rich_text"]
    assert pre
    assert pre[0]["elements"][0]["elements"][0]["text"] == req.statement


def test_decided_result_and_notices() -> None:
    req, proposal = _request(2)
    done = replace(req, status=ApprovalStatus.DONE, decided_by="UDBA")
    decided = ab.decided_message(done, proposal, [SECRET])
    shown = _check_limits(decided.blocks)
    assert "Approved and run" in shown
    assert "<@UDBA>" in shown
    assert not [b for b in decided.blocks if b["type"] == "actions"]
    expired = _check_limits(
        ab.decided_message(replace(req, status=ApprovalStatus.EXPIRED), proposal).blocks
    )
    assert "nothing ran" in expired

    result = ExecutionResult(
        kind=ActionKind.TERMINATE,
        statement=req.statement,
        signalled=(1000,),
        gone=(1000,),
        skipped=(Skipped(1001, "it is now active, no longer idle"),),
        changed=True,
        freed="1 connection slot(s)",
        headroom=(f'role "{HOSTILE_ROLE}": 2 of 3 connection(s) in use',),
    )
    shown = _check_limits(ab.result_message(done, proposal, result, [SECRET]).blocks)
    assert "Terminated pid 1000" in shown
    assert "pid 1001: it is now active" in shown
    assert "Headroom now" in shown

    refusal = ab.refusal_message("you are not an approver for prod", _policy())
    assert "<@UDBA>" in refusal.text or "<@UDBA>" in json.dumps(refusal.blocks)
    assert (
        "rejected by <@UDBA>"
        in ab.status_notice(replace(req, status=ApprovalStatus.REJECTED, decided_by="UDBA")).text
    )
