"""Approval-gated fixes: a report's fix button makes an approval request in the thread (exact
targets and SQL, Approve / Reject); an allowed approver decides; the result and the fresh
headroom follow in the thread; a request nobody decides is marked expired.

Every listener acks first; the work (reading the server, running the fix) happens on the
context's worker pool. The rules themselves live in `bot.remediation`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
import time
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk.errors import SlackApiError

from bot.errors import PgconnError
from bot.remediation import (
    Decision,
    ExpirySweeper,
    Outcome,
    Policy,
    Remediation,
    RemediationError,
    proposal_of,
)
from bot.remediation.model import ExecutionResult
from bot.remediation.text import when
from bot.render import approval_blocks as blocks
from bot.render.answer import fullness_now
from bot.render.blocks import ACTION_PREFIX, closed_card, escape, notice
from bot.slack import replies
from bot.slack.context import Context
from bot.slack.post import PostError, ephemeral_reply
from bot.slack.replies import Reply
from bot.store import ApprovalRequest, ApprovalStatus
from bot.triage.model import ActionKind, ProposedAction

log = logging.getLogger("pgconn.slack")

STALE_BUTTON = (
    "This button is from a report pgconn can no longer read. Run `/pgconn <cluster>` for a "
    "fresh report and use its buttons."
)


class Approvals:
    """The remediation core as the Slack adapter uses it, on the context's state store (opened
    only when some cluster can run fixes)."""

    def __init__(self, ctx: Context, *, sweep_every_s: float = 30.0) -> None:
        self.ctx = ctx
        self.sweep_every_s = sweep_every_s
        self._lock = threading.Lock()
        self._remediation: Remediation | None = None
        self._sweeper: ExpirySweeper | None = None

    def enabled(self) -> bool:
        config = self.ctx.config
        return any(Policy.for_cluster(config, n).not_configured() is None for n in config.clusters)

    def remediation(self) -> Remediation:
        with self._lock:
            if self._remediation is None:
                self._remediation = Remediation(
                    self.ctx.config, self.ctx.store(), group_members=self.members
                )
            return self._remediation

    def start(self) -> None:
        """Expire pending requests (including those from before a restart) in the background."""
        if self.enabled():
            self._sweeper = ExpirySweeper(
                self.remediation(), self.settled, interval_s=self.sweep_every_s
            ).start()

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.stop()
        with self._lock:
            self._remediation = None  # the store is the context's; it closes it

    def members(self, group: str) -> list[str]:
        """An approver user group's members (usergroups.users.list); an error refuses."""
        try:
            users = self.ctx.client.usergroups_users_list(usergroup=group).get("users")
        except SlackApiError as exc:
            raise PgconnError(
                f"usergroups.users.list failed: {exc.response.get('error')}"
            ) from None
        return [str(u) for u in users] if isinstance(users, list) else []

    # --- a fix button: the request --------------------------------------------------------

    def request(self, body: dict[str, Any], reply: Reply) -> None:
        action = body["actions"][0]
        requester = str(body["user"]["id"])
        channel = self.ctx.action_channel(body)
        try:
            value = json.loads(str(action.get("value") or ""))
            cluster = str(value["cluster"])
            kind = ActionKind(value["kind"])
            params = value["params"]
        except (ValueError, KeyError, TypeError):
            reply(notice(STALE_BUTTON))
            return
        if value.get("params_omitted") or not isinstance(params, dict):
            reply(notice(STALE_BUTTON))
            return
        config = self.ctx.config
        if self.ctx.refuse_here(cluster, channel):
            reply(notice("That cluster may not be used from this channel; nothing was requested."))
            return
        reason = Policy.for_cluster(config, cluster).not_configured()
        if reason:
            reply(notice(f":no_entry_sign: {escape(reason)}"))
            return
        thread_ts = _thread_of(body)
        fix = ProposedAction(kind, "", "", params)
        remediation = self.remediation()
        try:
            req = remediation.request(cluster, fix, requester, channel=channel, thread_ts=thread_ts)
        except RemediationError as exc:
            reply(notice(f":no_entry_sign: {escape(str(exc))}"))
            return
        message = blocks.request_message(
            req, proposal_of(req), remediation.policy(cluster), self.ctx.secrets
        )
        try:
            ts = self.ctx.poster.post(channel, message, thread_ts)
        except PostError as exc:
            reply(
                notice(
                    f":warning: The approval request could not be posted "
                    f"({escape(exc.reason)}); it expires unused."
                )
            )
            return
        if ts:
            remediation.set_message(req.id, ts)

    # --- Approve / Reject -----------------------------------------------------------------

    def decide(self, body: dict[str, Any], reply: Reply, approve: bool) -> None:
        approval_id = str(body["actions"][0].get("value") or "")
        who = str(body["user"]["id"])
        remediation = self.remediation()
        # A decision counts only from the channel its request was posted in, under the same
        # bindings as every other action.
        req = remediation.get(approval_id)
        channel = self.ctx.action_channel(body)
        if req is not None and (
            (req.channel and channel != req.channel) or self.ctx.refuse_here(req.cluster, channel)
        ):
            log.warning("decision on approval %s from another channel refused", approval_id)
            reply(notice("That request was not posted in this channel; nothing was decided."))
            return
        decision = (
            remediation.approve(approval_id, who)
            if approve
            else remediation.reject(approval_id, who)
        )
        verb = "approve" if approve else "reject"
        if decision.outcome is Outcome.REFUSED:
            req = decision.request
            policy = (
                remediation.policy(req.cluster)
                if req and req.cluster in self.ctx.config.clusters
                else None
            )
            reply(blocks.refusal_message(decision.reason, policy, verb, self.ctx.secrets))
            return
        if decision.outcome is Outcome.UNKNOWN or decision.request is None:
            reply(notice(escape(decision.message)))
        elif decision.outcome in (Outcome.DECIDED, Outcome.EXPIRED):
            reply(blocks.status_notice(decision.request, self.ctx.secrets))
        if decision.request is not None and decision.outcome is not Outcome.UNKNOWN:
            self.show(decision.request)
        self._tell_thread(decision)

    def show(self, req: ApprovalRequest) -> None:
        """Bring the request's message up to date (decided, expired)."""
        if not (req.channel and req.message_ts):
            return
        message = blocks.decided_message(req, proposal_of(req), self.ctx.secrets)
        # A failure is logged by the poster; the thread still gets the result.
        with contextlib.suppress(PostError):
            self.ctx.poster.update(req.channel, req.message_ts, message)

    def settled(self, req: ApprovalRequest) -> None:
        """A request the sweeper settled: expired, or a run left mid-way and reconciled (its
        thread is told what the server showed)."""
        self.show(req)
        if req.status is ApprovalStatus.DONE and req.result:
            result = ExecutionResult.from_json(req.result)
            self._tell_thread(Decision(Outcome.DONE, "", req, result))
        elif req.status is ApprovalStatus.FAILED and req.result:
            self._tell_thread(Decision(Outcome.FAILED, str(req.result.get("error")), req))

    def _tell_thread(self, decision: Decision) -> None:
        req = decision.request
        if req is None or not req.channel:
            return
        proposal = proposal_of(req)
        if decision.outcome is Outcome.DONE and decision.result is not None:
            message = blocks.result_message(req, proposal, decision.result, self.ctx.secrets)
        elif decision.outcome is Outcome.FAILED:
            message = blocks.failed_message(req, proposal, decision.message, self.ctx.secrets)
        else:
            return
        try:
            ts = self.ctx.poster.post(req.channel, message, req.thread_ts)
        except PostError:
            return  # logged by the poster
        if decision.outcome is Outcome.DONE:
            self._close_card(req, blocks.action_text(proposal), ts)

    def _close_card(self, req: ApprovalRequest, what: str, result_ts: str) -> None:
        """The fix ran: edit the incident's card (✅ with before → after) and link the result.
        Only the card of the thread the fix was requested in; a newer report has its own."""
        held = self.ctx.incidents.get(req.cluster)
        before = held.fullness() if held else None
        if held is None or before is None or held.thread_ts != req.thread_ts:
            return
        if not (held.channel and held.card_ts):
            return
        report = replies.report_for(self.ctx, req.cluster)
        after = fullness_now(before.kind, before.name, report.snapshot) if report.snapshot else None
        if after is None:
            return
        link = replies.permalink(self.ctx, req.channel or held.channel, result_ts)
        how = f"{what}: ran at {when(time.time())}"
        card = closed_card(
            req.cluster, before, after, how, link, self.ctx.secrets, approver=req.decided_by
        )
        with contextlib.suppress(PostError):
            self.ctx.poster.update(held.channel, held.card_ts, card)
        self.ctx.incidents.update(held, closed=after.has_room)

    # --- "Show the SQL that runs" ---------------------------------------------------------

    def show_sql(self, body: dict[str, Any], reply: Reply) -> None:
        approval_id = str(body["actions"][0].get("value") or "")
        req = self.remediation().get(approval_id)
        if req is None:
            reply(notice("This request is no longer known; diagnose again for a new one."))
            return
        reply(blocks.guarded_sql_message(req, self.ctx.secrets))


def _thread_of(body: dict[str, Any]) -> str | None:
    """The thread the clicked message is in (the report's), else that message itself."""
    message = body.get("message") or {}
    container = body.get("container") or {}
    ts = message.get("thread_ts") or container.get("thread_ts") or container.get("message_ts")
    return str(ts) if ts else None


def register(app: App, ctx: Context) -> None:
    approvals = Approvals(ctx)
    approvals.start()
    ctx.on_close(approvals.close)

    @app.action(re.compile("^" + re.escape(ACTION_PREFIX)))
    def on_fix(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("fix button", approvals.request, body, reply, tell=reply)

    @app.action(blocks.APPROVE_ACTION)
    def on_approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("approval", approvals.decide, body, reply, True, tell=reply)

    @app.action(blocks.SHOW_SQL_ACTION)
    def on_show_sql(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("show SQL", approvals.show_sql, body, reply, tell=reply)

    @app.action(blocks.REJECT_ACTION)
    def on_reject(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        reply = ephemeral_reply(respond, ctx.secrets)
        ctx.submit("rejection", approvals.decide, body, reply, False, tell=reply)
