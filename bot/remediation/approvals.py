"""The approval flow: request, refuse, approve (exactly once), reject, expire; every step in
the audit log.

Exactly once: approving is a compare-and-set from PENDING to APPROVED in the state store, so of
a double click, two approvers at once or a retried interaction, one call wins and only that
call runs the fix; the others are told who got there first. A fix that was claimed is never run
again.

The audit never misses a fix that ran: the runner records its intent (the exact targets and
statement, and the time by which it will have finished) before it signals anything, and the
outcome right after; a store that cannot take the intent means nothing runs, and a store that
cannot take the outcome is retried until it can. A request left mid-way (the process died, the
outcome never landed) is reconciled by `reconcile` against the live server once its runner's
time is up: which targets are gone, whether the change is in place. Then it is DONE or FAILED,
with a "reconciled" audit entry saying what was found.
"""

from __future__ import annotations

import logging
import secrets as random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import psycopg

from bot.config import ClusterConfig, Config
from bot.diagnostics.deadline import bounded
from bot.diagnostics.model import Snapshot
from bot.errors import PgconnError
from bot.observability import metrics
from bot.redact import redact_text
from bot.remediation import execute, live
from bot.remediation.admin import connect_admin, fail
from bot.remediation.errors import NotConfiguredError, RemediationError
from bot.remediation.headroom import headroom
from bot.remediation.model import ExecutionResult, Proposal
from bot.remediation.policy import GroupMembers, Policy
from bot.remediation.propose import propose
from bot.slots import waiting
from bot.store import ApprovalRequest, ApprovalStatus, AuditEntry, Store
from bot.triage.model import ProposedAction

log = logging.getLogger(__name__)

PGCONN = "pgconn"  # the actor of steps nobody clicked (expiry, reconciliation)
# A run's upper bound: the admin connect (5 s), its statement (10 s, bounded client-side too),
# waiting for terminated sessions to exit (3 s), with margin. Past it, a request still in
# flight was left mid-way, and reconciling it cannot race its runner.
RUN_BUDGET_S = 30.0
# How long the runner keeps trying to record an outcome (a locked or failing store) before it
# leaves the record to the background retries and reconciliation.
OUTCOME_RETRY_S = 90.0
# The client-side deadline of a run on the admin connection: its statements (statement_timeout
# 10 s) and the wait for terminated sessions to exit.
ADMIN_QUERY_S = 20.0
INTENT = "executing"
OUTCOMES = ("executed", "failed")
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
        outcome_retry_s: float = OUTCOME_RETRY_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.store = store
        self.group_members = group_members
        self.secrets = config.secrets()
        self.diagnose = diagnose or _default_diagnose(self.secrets)
        self.clock = clock
        self.wait_gone_s = wait_gone_s
        self.outcome_retry_s = outcome_retry_s
        self.sleep = sleep
        self._running: set[str] = set()  # requests this process is running now
        self._unrecorded: list[tuple[str, Callable[[], object]]] = []
        self._unrecorded_lock = threading.Lock()

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
        targets = [_target_ref(t) for t in req.targets]
        try:
            # The intent, before anything is signalled: if the store cannot take it, nothing runs.
            self._audit(
                INTENT,
                approver,
                req.cluster,
                req.id,
                {
                    "statement": proposal.statement,
                    "targets": targets,
                    "change": proposal.change.to_json() if proposal.change else None,
                    "deadline": self.clock() + RUN_BUDGET_S,
                },
            )
        except Exception as exc:
            reason = redact_text(f"{type(exc).__name__}: {exc}", self.secrets)
            log.error("approval %s: the intent could not be recorded; not run: %s", req.id, reason)
            return self._failed(
                req,
                approver,
                f"nothing ran: the state store could not record the fix before it ({reason})",
            )
        self._running.add(req.id)
        try:
            return self._execute(req, approver, policy, proposal, cluster, targets)
        finally:
            self._running.discard(req.id)

    def _execute(
        self,
        req: ApprovalRequest,
        approver: str,
        policy: Policy,
        proposal: Proposal,
        cluster: ClusterConfig,
        targets: list[dict[str, Any]],
    ) -> Decision:
        try:
            dsn = cluster.admin_dsn
            assert dsn is not None
            with waiting(), connect_admin(dsn, req.cluster, secrets=self.secrets) as conn:
                try:
                    with bounded(conn, ADMIN_QUERY_S, what=req.cluster):
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
        # The outcome first, then the headroom (a fresh diagnosis can take seconds).
        outcome = {
            "statement": result.statement,
            "targets": targets,
            "signalled": list(result.signalled),
            "gone": list(result.gone),
            "skipped": [s.to_json() for s in result.skipped],
            "changed": result.changed,
            "freed": result.freed,
        }
        recorded = self._durably(
            f"the outcome of approval {req.id}",
            lambda: self._audit("executed", approver, req.cluster, req.id, outcome),
        )
        result = _with_headroom(result, proposal, self.diagnose, cluster)
        self._durably(
            f"the status of approval {req.id}",
            lambda: self.store.transition(
                req.id,
                ApprovalStatus.APPROVED,
                ApprovalStatus.DONE,
                now=self.clock(),
                result=result.to_json(),
            ),
        )
        log.info("approval %s on %s ran: %s", req.id, req.cluster, result.freed)
        note = "" if recorded else " (its audit record is not written yet; pgconn keeps trying)"
        return Decision(
            Outcome.DONE,
            f"Approved and run: {proposal.title}.{note}",
            self._get_quietly(req),
            result,
        )

    def _failed(self, req: ApprovalRequest, approver: str, error: str) -> Decision:
        self._durably(
            f"the failure of approval {req.id}",
            lambda: self._audit("failed", approver, req.cluster, req.id, {"error": error}),
        )
        self._durably(
            f"the status of approval {req.id}",
            lambda: self.store.transition(
                req.id,
                ApprovalStatus.APPROVED,
                ApprovalStatus.FAILED,
                now=self.clock(),
                result={"error": error},
            ),
        )
        text = (
            f"The fix was approved but failed: {error}. Sessions signalled before the "
            "failure, if any, stay signalled; diagnose again before retrying."
        )
        return Decision(Outcome.FAILED, text, self._get_quietly(req))

    def _get_quietly(self, req: ApprovalRequest) -> ApprovalRequest:
        try:
            return self.store.get_approval(req.id) or req
        except Exception:  # the store is failing: what the caller had will do for display
            return req

    def _durably(self, what: str, write: Callable[[], object]) -> bool:
        """Write a record, retrying a failing store for `outcome_retry_s`; past that, keep it
        for `flush_unrecorded` (the sweeper's rounds). True when written now."""
        deadline = time.monotonic() + self.outcome_retry_s
        while True:
            try:
                with waiting():
                    write()
                return True
            except Exception as exc:
                reason = redact_text(f"{type(exc).__name__}: {exc}", self.secrets)
                if time.monotonic() >= deadline:
                    log.error("recording %s failed (%s); retried in the background", what, reason)
                    with self._unrecorded_lock:
                        self._unrecorded.append((what, write))
                    return False
                log.warning("recording %s failed (%s); retrying", what, reason)
                with waiting():
                    self.sleep(1.0)

    def flush_unrecorded(self) -> int:
        """Write the records a failing store refused earlier, in order; how many are left."""
        with self._unrecorded_lock:
            pending, self._unrecorded = self._unrecorded, []
        for i, (what, write) in enumerate(pending):
            try:
                write()
            except Exception as exc:
                log.warning("recording %s still fails: %s", what, type(exc).__name__)
                with self._unrecorded_lock:
                    self._unrecorded[:0] = pending[i:]
                    return len(self._unrecorded)
            log.info("recorded %s", what)
        return 0

    # --- reconciliation ---------------------------------------------------------------------

    def reconcile(self) -> tuple[list[ApprovalRequest], float | None]:
        """Settle every request left mid-way whose runner's time is up, from the audit and
        the live server; the requests settled, and when the next one's time is up (None:
        nothing is waiting)."""
        self.flush_unrecorded()
        now = self.clock()
        settled: list[ApprovalRequest] = []
        next_due: float | None = None
        for req in self.store.in_flight():
            if req.id in self._running:
                continue
            entries = self.store.audit(approval_id=req.id, limit=1000)
            intent = next((e for e in entries if e.event == INTENT), None)
            outcome = next((e for e in entries if e.event in OUTCOMES), None)
            due = (
                float(intent.details.get("deadline") or 0)
                if intent is not None
                else (req.decided_at or req.created_at) + RUN_BUDGET_S
            )
            if outcome is None and now < due:
                next_due = due if next_due is None else min(next_due, due)
                continue
            try:
                done = self._settle(req, intent, outcome)
            except Exception as exc:  # the server or the store is down: the next round retries
                log.warning(
                    "approval %s left mid-way cannot be reconciled yet: %s",
                    req.id,
                    redact_text(f"{type(exc).__name__}: {exc}", self.secrets),
                )
                continue
            if done is not None:
                settled.append(done)
        return settled, next_due

    def _settle(
        self, req: ApprovalRequest, intent: AuditEntry | None, outcome: AuditEntry | None
    ) -> ApprovalRequest | None:
        if outcome is not None:  # the outcome landed; only the status did not
            to = ApprovalStatus.DONE if outcome.event == "executed" else ApprovalStatus.FAILED
            result: dict[str, Any] = (
                {**_result_skeleton(req), **outcome.details}
                if to is ApprovalStatus.DONE
                else {"error": str(outcome.details.get("error") or "failed")}
            )
            details: dict[str, Any] = {"found": "outcome recorded", "status": to.value}
        elif intent is None:
            to = ApprovalStatus.FAILED
            result = {
                "error": "pgconn stopped after the approval and before recording the fix's "
                "targets, so nothing ran; diagnose again and request a new fix if needed"
            }
            details = {"found": "no intent recorded", "ran": False}
        else:
            to = ApprovalStatus.DONE
            result, details = self._found_live(req)
        if not self.store.transition(
            req.id, ApprovalStatus.APPROVED, to, now=self.clock(), result=result
        ):
            return None  # someone else settled it
        self._audit("reconciled", PGCONN, req.cluster, req.id, details)
        log.info("approval %s left mid-way reconciled: %s", req.id, details)
        return self.store.get_approval(req.id)

    def _found_live(self, req: ApprovalRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        """What the live server shows of a run that stopped after its intent."""
        proposal = proposal_of(req)
        dsn = self.config.cluster(req.cluster).admin_dsn
        if dsn is None:
            raise RemediationError(f"cluster {req.cluster} has no admin_dsn any more")
        with (
            waiting(),
            connect_admin(dsn, req.cluster, secrets=self.secrets) as conn,
            bounded(conn, ADMIN_QUERY_S, what=req.cluster),
        ):
            if proposal.on_sessions:
                pids = [t.pid for t in proposal.targets]
                still = live.remaining(conn, pids, [t.backend_start for t in proposal.targets])
                gone = sorted(set(pids) - still)
                changed, present = bool(gone), sorted(still)
                freed = (
                    f"pgconn stopped mid-way; reconciled later: {len(gone)} of "
                    f"{len(pids)} targeted session(s) are gone"
                )
            else:
                change = proposal.change
                assert change is not None
                _, now_value = execute.live_value(conn, change)
                changed, gone, present = now_value == change.after, [], []
                freed = (
                    f"pgconn stopped mid-way; reconciled later: {change.setting} of "
                    f'{change.object_kind} "{change.name}" is {now_value}'
                    + (" (the change is in place)" if changed else " (not changed)")
                )
        result = {
            **_result_skeleton(req),
            "gone": gone,
            "changed": changed,
            "freed": freed,
            "reconciled": True,
        }
        details = {
            "found": "intent without outcome",
            "gone": gone,
            "still_present": present,
            "changed": changed,
        }
        return result, details

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


def _result_skeleton(req: ApprovalRequest) -> dict[str, Any]:
    """An ExecutionResult's fields for a run whose result pgconn did not see itself."""
    return {
        "kind": req.action,
        "statement": req.statement,
        "signalled": [],
        "gone": [],
        "skipped": [],
        "changed": False,
        "freed": "",
        "headroom": [],
    }


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
