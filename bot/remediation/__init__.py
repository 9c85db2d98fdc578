"""Approval-gated remediation: a proposed fix becomes an exact proposal read live, waits for an
allowed approver, runs once through the cluster's admin_dsn after re-checking every target, and
leaves an audit trail. No chat imports: adapters call `Remediation` and render its answers.
See docs/remediation.md.
"""

from __future__ import annotations

from bot.remediation.approvals import Decision, Outcome, Remediation, proposal_of, status_text
from bot.remediation.errors import (
    AdminConnectionError,
    InvalidActionError,
    NotConfiguredError,
    NothingToDoError,
    RemediationError,
)
from bot.remediation.model import (
    Change,
    Criteria,
    Excluded,
    ExecutionResult,
    Proposal,
    Skipped,
    Target,
)
from bot.remediation.policy import GroupMembers, Policy, Verdict
from bot.remediation.sweeper import ExpirySweeper

__all__ = [
    "AdminConnectionError",
    "Change",
    "Criteria",
    "Decision",
    "Excluded",
    "ExecutionResult",
    "ExpirySweeper",
    "GroupMembers",
    "InvalidActionError",
    "NotConfiguredError",
    "NothingToDoError",
    "Outcome",
    "Policy",
    "Proposal",
    "Remediation",
    "RemediationError",
    "Skipped",
    "Target",
    "Verdict",
    "proposal_of",
    "status_text",
]
