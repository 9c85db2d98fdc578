"""The approval flow: request, refuse, approve (exactly once), reject, expire; every step in
the audit log.

Exactly once: approving is a compare-and-set from PENDING to APPROVED in the state store, so of
a double click, two approvers at once or a retried interaction, one call wins and only that
call runs the fix; the others are told who got there first. A fix that was claimed but never
finished (the bot died mid-way) stays APPROVED and is never run again.
"""

from __future__ import annotations

import logging
import secrets as random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import psycopg

from bot.config import ClusterConfig, Config
from bot.diagnostics.model import Snapshot
from bot.errors import PgconnError
from bot.observability import metrics
from bot.redact import redact_text
from bot.remediation import execute
from bot.remediation.admin import connect_admin, fail
from bot.remediation.errors import NotConfiguredError, RemediationError
from bot.remediation.headroom import headroom
from bot.remediation.model import ExecutionResult, Proposal
from bot.remediation.policy import GroupMembers, Policy
from bot.remediation.propose import propose
from bot.store import ApprovalRequest, ApprovalStatus, AuditEntry, Store
from bot.triage.model import ProposedAction

log = logging.getLogger(__name__)

PGCONN = "pgconn"  # the actor of steps nobody clicked (expiry)
Diagnose = Callable[[ClusterConfig], Snapshot | None]


class Outcome(StrEnum):
    DONE = "done"  # approved here and run (result attached)
    FAILED = "failed"  # approved here, but running it failed
    REJECTED = "rejected"
    REFUSED = "refused"  # this user may not do that; nothing changed
    EXPIRED = "expired"
    DECIDED = "decided"  # someone else decided first, or it was already decided
    UNKNOWN = "unknown"  # no such request


@dataclass(frozen=True, slots=True)
class Decision:
    """What an approve or reject click did. `message` is for the person who clicked."""

    outcome: Outcome
    message: str
    request: ApprovalRequest | None = None
    result: ExecutionResult | None = None
    reason: str = ""  # for REFUSED: why, without the list of approvers


def proposal_of(req: ApprovalRequest) -> Proposal:
    return Proposal.from_json(req.cluster, req.params, req.targets, req.statement)


def status_text(req: ApprovalRequest) -> str:
    by = f" by {req.decided_by}" if req.decided_by else ""
    return {
        ApprovalStatus.PENDING: "is waiting for an approver",
        ApprovalStatus.APPROVED: f"was approved{by} and is running",
        ApprovalStatus.DONE: f"was approved{by} and has run",
        ApprovalStatus.FAILED: f"was approved{by} but failed",
        ApprovalStatus.REJECTED: f"was rejected{by}",
        ApprovalStatus.EXPIRED: "expired before anyone approved it",
    }[req.status]


def _default_diagnose(secrets: Sequence[str]) -> Diagnose:
    def run(cluster: ClusterConfig) -> Snapshot | None:
        from bot.service import take_live

        return take_live(cluster, secrets).snapshot

    return run


class Remediation:
    """The core of approval-gated fixes; adapters (Slack, CLI) call it and render its answers.

    `group_members` resolves an approver user group (the Slack adapter provides it);
    `diagnose` takes the fresh snapshot shown after a fix; `clock` is epoch seconds.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        group_members: GroupMembers | None = None,
        diagnose: Diagnose | None = None,
        clock: Callable[[], float] = time.time,
        wait_gone_s: float = execute.WAIT_GONE_S,
    ) -> None:
        self.config = config
        self.store = store
        self.group_members = group_members
        self.secrets = config.secrets()
        self.diagnose = diagnose or _default_diagnose(self.secrets)
        self.clock = clock
        self.wait_gone_s = wait_gone_s

    def policy(self, cluster: str) -> Policy:
        return Policy.for_cluster(self.config, cluster)

    def not_configured(self, cluster: str) -> str | None:
        """Why fixes cannot run on this cluster (no admin_dsn, no approvers), or None."""
        return self.policy(cluster).not_configured()

    # --- request ----------------------------------------------------------------------------

    def propose(self, cluster: str, action: ProposedAction) -> Proposal:
        """The exact proposal, read live through admin_dsn. Raises RemediationError."""
        policy = self.policy(cluster)
        reason = policy.not_configured()
        if reason:
            raise NotConfiguredError(reason)
        dsn = self.config.cluster(cluster).admin_dsn
        assert dsn is not None
        with connect_admin(dsn, cluster, secrets=self.secrets) as conn:
            try:
                return propose(conn, cluster, action, policy)
            except psycopg.Error as exc:
                raise fail(cluster, "reading the sessions to target", exc, self.secrets) from None

    def request(
        self,
        cluster: str,
        action: ProposedAction,
        requester: str,
        *,
        channel: str | None = None,
        thread_ts: str | None = None,
    ) -> ApprovalRequest:
        """Build the proposal and store it as a PENDING request. Raises RemediationError (not
        configured, nothing to do, invalid, admin connection failed); a refusal is audited."""
        try:
            proposal = self.propose(cluster, action)
        except RemediationError as exc:
            self._audit(
                "refused",
                requester,
                cluster,
                None,
                {"step": "request", "action": action.kind.value, "reason": str(exc)},
            )
            raise
        now = self.clock()
        req = ApprovalRequest(
            id=random.token_hex(8),
            cluster=cluster,
            action=proposal.kind.value,
            params={**proposal.to_json(), "action_params": dict(action.params)},
            targets=[t.to_json() for t in proposal.targets],
            statement=proposal.statement,
            requester=requester,
            status=ApprovalStatus.PENDING,
            created_at=now,
            expires_at=now + self.policy(cluster).ttl_s,
            channel=channel,
            thread_ts=thread_ts,
        )
        self.store.create_approval(req)
        self._audit(
            "requested",
            requester,
            cluster,
            req.id,
            {
                "action": proposal.kind.value,
                "title": proposal.title,
                "statement": proposal.statement,
                "blast_radius": proposal.blast_radius,
                "targets": [_target_ref(t) for t in req.targets],
                "change": proposal.change.to_json() if proposal.change else None,
                "expires_at": req.expires_at,
            },
        )
        log.info(
            "approval %s requested on %s by %s: %s", req.id, cluster, requester, proposal.title
        )
        return req

    def set_message(self, approval_id: str, message_ts: str) -> None:
        """Remember the chat message that shows the request (to update it later)."""
        self.store.set_approval_message(approval_id, message_ts)

    def get(self, approval_id: str) -> ApprovalRequest | None:
        return self.store.get_approval(approval_id)

    # --- decide -----------------------------------------------------------------------------

    def approve(self, approval_id: str, user: str) -> Decision:
        """Approve and, for the one caller that wins the compare-and-set, run the fix."""
        req, early = self._open(approval_id, user, "approve")
        if early is not None:
            return early
        assert req is not None
        policy = self.policy(req.cluster)
        verdict = policy.may_approve(user, req.requester, self.group_members)
        if not verdict.allowed:
            return self._refuse(req, user, "approve", verdict.reason, policy)
        now = self.clock()
        if not self.store.transition(
            req.id, ApprovalStatus.PENDING, ApprovalStatus.APPROVED, now=now, actor=user
        ):
            return self._lost(req.id, now)
        self._audit("approved", user, req.cluster, req.id, {"requester": req.requester})
        claimed = self.store.get_approval(req.id) or req
        return self._run(claimed, user, policy)

    def reject(self, approval_id: str, user: str) -> Decision:
        req, early = self._open(approval_id, user, "reject")
        if early is not None:
            return early
        assert req is not None
        policy = self.policy(req.cluster)
        verdict = policy.may_reject(user, req.requester, self.group_members)
        if not verdict.allowed:
            return self._refuse(req, user, "reject", verdict.reason, policy)
        now = self.clock()
        if not self.store.transition(
            req.id, ApprovalStatus.PENDING, ApprovalStatus.REJECTED, now=now, actor=user
        ):
            return self._lost(req.id, now)
        self._audit("rejected", user, req.cluster, req.id, {"requester": req.requester})
        done = self.store.get_approval(req.id)
        return Decision(Outcome.REJECTED, f"Rejected: {proposal_of(req).title}. Nothing ran.", done)

    def expire_due(self) -> list[ApprovalRequest]:
        """Expire every pending request whose time is up; the ones this call expired."""
        now = self.clock()
        expired = []
        for req in self.store.expired_pending(now):
            if self._expire(req, now):
                expired.append(self.store.get_approval(req.id) or req)
        return expired

    # --- steps ------------------------------------------------------------------------------

    def _open(
        self, approval_id: str, user: str, verb: str
    ) -> tuple[ApprovalRequest | None, Decision | None]:
        """The request if it is still open, else the Decision that says why not."""
        req = self.store.get_approval(approval_id)
        if req is None:
            return None, Decision(Outcome.UNKNOWN, "pgconn has no such approval request.")
        if req.status is not ApprovalStatus.PENDING:
            return None, Decision(Outcome.DECIDED, f"This request {status_text(req)}.", req)
        now = self.clock()
        if now >= req.expires_at:
            self._expire(req, now)
            return None, Decision(
                Outcome.EXPIRED,
                "This request has expired: nothing ran. Diagnose again and request a new fix.",
                self.store.get_approval(req.id) or req,
            )
        if req.cluster not in self.config.clusters:
            return None, self._refuse(
                req, user, verb, f"cluster {req.cluster} is no longer configured", None
            )
        reason = self.not_configured(req.cluster)
        if reason:
            return None, self._refuse(req, user, verb, reason, None)
        return req, None

    def _refuse(
        self, req: ApprovalRequest, user: str, verb: str, reason: str, policy: Policy | None
    ) -> Decision:
        self._audit("refused", user, req.cluster, req.id, {"step": verb, "reason": reason})
        who = f" Who may approve: {policy.who()}." if policy is not None else ""
        return Decision(
            Outcome.REFUSED, f"You may not {verb} this request: {reason}.{who}", req, reason=reason
        )

    def _lost(self, approval_id: str, now: float) -> Decision:
        """The compare-and-set went to someone else (or the request expired meanwhile)."""
        req = self.store.get_approval(approval_id)
        assert req is not None
        if req.status is ApprovalStatus.PENDING and now >= req.expires_at:
            self._expire(req, now)
            req = self.store.get_approval(approval_id) or req
        return Decision(Outcome.DECIDED, f"This request {status_text(req)}.", req)

    def _expire(self, req: ApprovalRequest, now: float) -> bool:
        if not self.store.expire(req.id, now=now):
            return False
        self._audit(
            "expired",
            PGCONN,
            req.cluster,
            req.id,
            {"requester": req.requester, "expires_at": req.expires_at},
        )
        log.info("approval %s on %s expired", req.id, req.cluster)
        return True

    def _run(self, req: ApprovalRequest, approver: str, policy: Policy) -> Decision:
        proposal = proposal_of(req)
        cluster = self.config.cluster(req.cluster)
        try:
            dsn = cluster.admin_dsn
            assert dsn is not None
            with connect_admin(dsn, req.cluster, secrets=self.secrets) as conn:
                try:
                    result = execute.run(conn, proposal, policy, wait_gone_s=self.wait_gone_s)
                except psycopg.Error as exc:
                    raise fail(req.cluster, "running the fix", exc, self.secrets) from None
        except PgconnError as exc:
            return self._failed(req, approver, str(exc))
        except Exception as exc:
            log.exception("approval %s: the fix failed unexpectedly", req.id)
            return self._failed(
                req, approver, redact_text(f"{type(exc).__name__}: {exc}", self.secrets)
            )
        result = _with_headroom(result, proposal, self.diagnose, cluster)
        self.store.transition(
            req.id,
            ApprovalStatus.APPROVED,
            ApprovalStatus.DONE,
            now=self.clock(),
            result=result.to_json(),
        )
        self._audit(
            "executed",
            approver,
            req.cluster,
            req.id,
            {
                "statement": result.statement,
                "targets": [_target_ref(t) for t in req.targets],
                "signalled": list(result.signalled),
                "gone": list(result.gone),
                "skipped": [s.to_json() for s in result.skipped],
                "changed": result.changed,
                "freed": result.freed,
                "headroom": list(result.headroom),
            },
        )
        log.info("approval %s on %s ran: %s", req.id, req.cluster, result.freed)
        return Decision(
            Outcome.DONE,
            f"Approved and run: {proposal.title}.",
            self.store.get_approval(req.id) or req,
            result,
        )

    def _failed(self, req: ApprovalRequest, approver: str, error: str) -> Decision:
        self.store.transition(
            req.id,
            ApprovalStatus.APPROVED,
            ApprovalStatus.FAILED,
            now=self.clock(),
            result={"error": error},
        )
        self._audit("failed", approver, req.cluster, req.id, {"error": error})
        text = (
            f"The fix was approved but failed: {error}. Sessions signalled before the "
            "failure, if any, stay signalled; diagnose again before retrying."
        )
        return Decision(Outcome.FAILED, text, self.store.get_approval(req.id) or req)

    def _audit(
        self,
        event: str,
        actor: str,
        cluster: str | None,
        approval_id: str | None,
        details: dict[str, Any],
    ) -> None:
        metrics.APPROVALS.labels(event).inc()
        self.store.append_audit(
            AuditEntry(
                at=self.clock(),
                event=event,
                actor=actor,
                details=details,
                approval_id=approval_id,
                cluster=cluster,
            )
        )


def _target_ref(t: dict[str, Any]) -> dict[str, Any]:
    keys = ("pid", "backend_start", "role", "database", "application", "client", "state")
    return {k: t.get(k) for k in keys}


def _with_headroom(
    result: ExecutionResult, proposal: Proposal, diagnose: Diagnose, cluster: ClusterConfig
) -> ExecutionResult:
    try:
        snap = diagnose(cluster)
    except Exception as exc:
        log.warning(
            "fresh diagnosis of %s after a fix failed: %s", cluster.name, type(exc).__name__
        )
        snap = None
    lines = (
        headroom(proposal, snap)
        if snap is not None
        else (
            f"pgconn could not take a fresh diagnosis of {cluster.name}; run "
            f"/pgconn {cluster.name} to see the headroom",
        )
    )
    return replace(result, headroom=lines)
