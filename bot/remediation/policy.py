"""Who may approve a fix on a cluster, and the limits every fix there respects.

Approvers are Slack user IDs, and optionally the members of one Slack user group. Resolving a
group needs the Slack API, so the chat adapter passes a `GroupMembers` callable; without one,
only the listed IDs count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass

from bot.config import Config

log = logging.getLogger(__name__)

#: A user group's member IDs (Slack: usergroups.users.list). May raise; that refuses.
GroupMembers = Callable[[str], Collection[str]]


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """One cluster's approval rules and hard limits (from `clusters.<name>` and the globals)."""

    cluster: str
    admin_configured: bool
    approvers: tuple[str, ...]
    usergroup: str | None
    two_person_rule: bool
    allow_superuser_targets: bool
    max_sessions: int
    ttl_s: float

    @classmethod
    def for_cluster(cls, config: Config, name: str) -> Policy:
        c = config.cluster(name)
        # A cluster that names its own approvers replaces the global ones: a sensitive cluster
        # can be narrowed to its DBAs without touching the others.
        own = bool(c.approvers or c.approver_usergroup)
        return cls(
            cluster=name,
            admin_configured=bool(c.admin_dsn),
            approvers=c.approvers if own else config.approvers,
            usergroup=c.approver_usergroup if own else config.approver_usergroup,
            two_person_rule=c.two_person_rule,
            allow_superuser_targets=c.allow_superuser_targets,
            max_sessions=c.max_sessions_per_action,
            ttl_s=c.approval_ttl_minutes * 60.0,
        )

    def not_configured(self) -> str | None:
        """Why fixes cannot be requested on this cluster, or None when they can."""
        if not self.admin_configured:
            return (
                f"Remediation is not configured for {self.cluster}: it has no admin_dsn. Add "
                f"clusters.{self.cluster}.admin_dsn (see docs/remediation.md), or run the SQL "
                "shown in the report by hand."
            )
        if not self.approvers and not self.usergroup:
            return (
                f"Remediation is not configured for {self.cluster}: nobody may approve fixes. "
                f"Set approvers (Slack user IDs) or approver_usergroup, globally or under "
                f"clusters.{self.cluster}."
            )
        return None

    def who(
        self,
        mention: Callable[[str], str] = str,
        group: Callable[[str], str] = lambda g: f"user group {g}",
    ) -> str:
        """Who may approve, in words (`U1, U2 or members of user group S1`); the adapter
        formats the user and group mentions."""
        names = [mention(a) for a in self.approvers]
        if self.usergroup:
            names.append(f"members of {group(self.usergroup)}")
        if not names:
            return "nobody (no approvers are configured)"
        text = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        if self.two_person_rule:
            text += " (never the requester)"
        return text

    def may_approve(
        self, user: str, requester: str, members: GroupMembers | None = None
    ) -> Verdict:
        if self.two_person_rule and user == requester:
            return Verdict(
                False,
                "you requested this fix, and the two-person rule needs someone else to approve it",
            )
        if user in self.approvers:
            return Verdict(True)
        if self.usergroup and members is not None:
            try:
                if user in members(self.usergroup):
                    return Verdict(True)
            except Exception as exc:
                log.warning(
                    "cannot list the members of user group %s: %s",
                    self.usergroup,
                    type(exc).__name__,
                )
                return Verdict(
                    False,
                    f"pgconn could not check the members of user group "
                    f"{self.usergroup}; try again, or ask a listed approver",
                )
        return Verdict(False, f"you are not an approver for {self.cluster}")

    def may_reject(self, user: str, requester: str, members: GroupMembers | None = None) -> Verdict:
        """Approvers may reject; the requester may withdraw their own request."""
        if user == requester:
            return Verdict(True)
        verdict = self.may_approve(user, requester, members)
        if verdict.allowed:
            return verdict
        return Verdict(False, f"you are not an approver for {self.cluster}")
