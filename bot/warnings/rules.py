"""What to say about an entity this round, given what was said before. Pure.

One message per entity per incident: the first crossing posts it (OPEN); while the entity stays
over, the same message is edited (UPDATE, ESCALATE with a reply in its thread when it turns
critical); dropping below the threshold minus the margin replies "recovered" in its thread
(RECOVER). The recovered record is kept for `reopen_seconds`, so a load that crosses again soon
reopens that message (REOPEN) rather than posting another; after that it is forgotten (FORGET).
The cluster itself (reachability) follows the same cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from bot.config import WarningsConfig
from bot.warnings.levels import classify
from bot.warnings.model import EntityKind, Level, Levels, ProbeFailure, Usage
from bot.warnings.record import AlertRecord, Status
from bot.warnings.trend import Sample


class Action(StrEnum):
    NONE = "none"  # nothing to say; the record (if any) is saved as given
    OPEN = "open"  # post a new message
    UPDATE = "update"  # edit the message, when what it says changed or a refresh is due
    ESCALATE = "escalate"  # edit it and reply in its thread: now critical
    REOPEN = "reopen"  # edit it and reply in its thread: over again soon after recovering
    RECOVER = "recover"  # reply in its thread and edit it: back below
    FORGET = "forget"  # drop the stored record


@dataclass(frozen=True, slots=True)
class Policy:
    reopen_seconds: float
    refresh_seconds: float
    unreachable_after: int

    @classmethod
    def of(cls, warn: WarningsConfig) -> Policy:
        return cls(
            reopen_seconds=warn.reopen_seconds,
            refresh_seconds=warn.refresh_seconds,
            unreachable_after=warn.unreachable_after,
        )


@dataclass(frozen=True, slots=True)
class Step:
    """The action, the entity's level, and the record to store afterwards (None: nothing to
    store, or, with FORGET, delete it)."""

    action: Action
    level: Level
    record: AlertRecord | None


def _expired(prev: AlertRecord | None, now: float, policy: Policy) -> bool:
    return (
        prev is not None
        and prev.status is Status.RECOVERED
        and now - (prev.recovered_at or prev.updated_at) > policy.reopen_seconds
    )


def _share(current: int, limit: int) -> float:
    return current / limit if limit > 0 else float(current > 0)


def _peak(prev: AlertRecord, usage: Usage) -> tuple[int, int]:
    """The highest share seen, with the limit it was measured against: a limit raised during
    the incident must not turn a 5/5 peak into 5/7."""
    peak_limit = prev.peak_limit or prev.limit
    if _share(usage.current, usage.limit) >= _share(prev.peak, peak_limit):
        return usage.current, usage.limit
    return prev.peak, peak_limit


def decide(
    prev: AlertRecord | None,
    usage: Usage,
    levels: Levels,
    samples: tuple[Sample, ...],
    *,
    cluster: str,
    channel: str | None,
    now: float,
    policy: Policy,
) -> Step:
    """The step for a probed entity. `samples` are its recent ones, newest last."""
    expired = _expired(prev, now, policy)
    was = prev.level if prev is not None and prev.is_open else Level.OK
    level = classify(usage.share, levels, was)

    if level is Level.OK:
        if prev is None:
            return Step(Action.NONE, level, None)
        if prev.is_open:
            return Step(
                Action.RECOVER,
                level,
                replace(
                    prev,
                    status=Status.RECOVERED,
                    recovered_at=now,
                    updated_at=now,
                    limit=usage.limit,
                    current=usage.current,
                    samples=samples,
                ),
            )
        return Step(Action.FORGET if expired else Action.NONE, level, None if expired else prev)

    status = Status.of(level)
    if prev is None or expired:
        return Step(
            Action.OPEN,
            level,
            AlertRecord(
                cluster=cluster,
                kind=usage.kind,
                entity=usage.name,
                status=status,
                since=now,
                updated_at=now,
                channel=channel,
                version=prev.version if prev else 0,
                limit=usage.limit,
                current=usage.current,
                peak=usage.current,
                peak_limit=usage.limit,
                samples=samples,
            ),
        )
    peak, peak_limit = _peak(prev, usage)
    moved = replace(
        prev,
        status=status,
        updated_at=now,
        limit=usage.limit,
        current=usage.current,
        peak=peak,
        peak_limit=peak_limit,
        samples=samples,
    )
    if prev.status is Status.RECOVERED:
        return Step(
            Action.REOPEN,
            level,
            replace(
                moved,
                since=now,
                recovered_at=None,
                peak=usage.current,
                peak_limit=usage.limit,
            ),
        )
    if prev.message_ts is None and prev.channel is not None:
        return Step(Action.OPEN, level, moved)  # the first post did not go out: try again
    if level.rank > prev.level.rank:
        return Step(Action.ESCALATE, level, moved)
    return Step(Action.UPDATE, level, moved)


def decide_gone(prev: AlertRecord, *, now: float, policy: Policy) -> Step:
    """The step for a stored entity the probe no longer lists (its limit was removed, or it was
    dropped): an open incident is over."""
    if prev.is_open:
        return Step(
            Action.RECOVER,
            Level.OK,
            replace(prev, status=Status.RECOVERED, recovered_at=now, updated_at=now),
        )
    expired = _expired(prev, now, policy)
    return Step(Action.FORGET if expired else Action.NONE, Level.OK, None if expired else prev)


def decide_unreachable(
    prev: AlertRecord | None,
    failure: ProbeFailure,
    failures_in_row: int,
    *,
    channel: str | None,
    now: float,
    policy: Policy,
) -> Step:
    """A failed probe: reported once the cluster has failed `unreachable_after` rounds in a row;
    afterwards its message is edited only when the reason changes."""
    if prev is not None and prev.is_open:
        if prev.message_ts is None and prev.channel is not None:
            return Step(
                Action.OPEN, Level.CRITICAL, replace(prev, reason=failure.reason, updated_at=now)
            )
        action = Action.UPDATE if failure.reason != prev.reason else Action.NONE
        return Step(action, Level.CRITICAL, replace(prev, reason=failure.reason, updated_at=now))
    if failures_in_row < policy.unreachable_after:
        return Step(Action.NONE, Level.OK, prev)
    if prev is not None and not _expired(prev, now, policy):
        return Step(
            Action.REOPEN,
            Level.CRITICAL,
            replace(
                prev,
                status=Status.UNREACHABLE,
                since=now,
                updated_at=now,
                recovered_at=None,
                reason=failure.reason,
            ),
        )
    return Step(
        Action.OPEN,
        Level.CRITICAL,
        AlertRecord(
            cluster=failure.cluster,
            kind=EntityKind.CLUSTER,
            entity="",
            status=Status.UNREACHABLE,
            since=now,
            updated_at=now,
            channel=channel,
            version=prev.version if prev else 0,
            reason=failure.reason,
        ),
    )


def decide_reachable(prev: AlertRecord, *, now: float, policy: Policy) -> Step:
    """A successful probe of a cluster that has a reachability record."""
    return decide_gone(prev, now=now, policy=policy)


def due(record: AlertRecord, fingerprint: str, *, now: float, policy: Policy) -> bool:
    """Whether an UPDATE edits the message: what it says changed, or it is due a refresh (its
    time over) after `refresh_seconds`."""
    return record.fingerprint != fingerprint or now - record.notified_at >= policy.refresh_seconds
