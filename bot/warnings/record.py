"""An alert as the store keeps it. `AlertState.data` is a JSON dict at the store's boundary;
here it is typed, and only this module reads or writes its keys."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bot.store import AlertState
from bot.warnings.model import EntityKind, Level
from bot.warnings.trend import Sample


class Status(StrEnum):
    WARNING = "warning"
    CRITICAL = "critical"
    UNREACHABLE = "unreachable"
    # Kept for `warnings.reopen_seconds` after a recovery so that crossing again reopens the
    # same message instead of posting another.
    RECOVERED = "recovered"

    @classmethod
    def of(cls, level: Level) -> Status:
        return cls.CRITICAL if level is Level.CRITICAL else cls.WARNING


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One entity's incident: its message, where it stands, and its recent samples.

    `since` is when it went over (or became unreachable); `notified_at` when its message was
    last posted or edited, and `fingerprint` what that message said (time over aside).
    `message_ts` None with a channel set means the post has not gone out yet.
    """

    cluster: str
    kind: EntityKind
    entity: str
    status: Status
    since: float
    updated_at: float
    channel: str | None = None
    message_ts: str | None = None
    version: int = 0
    limit: int = 0
    current: int = 0
    peak: int = 0
    peak_limit: int = 0
    samples: tuple[Sample, ...] = ()
    fingerprint: str = ""
    notified_at: float = 0.0
    recovered_at: float | None = None
    reason: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cluster, self.kind.value, self.entity)

    @property
    def is_open(self) -> bool:
        return self.status is not Status.RECOVERED

    @property
    def level(self) -> Level:
        """The usage level it was at (OK once recovered, and for reachability)."""
        return {Status.WARNING: Level.WARNING, Status.CRITICAL: Level.CRITICAL}.get(
            self.status, Level.OK
        )


def to_state(record: AlertRecord) -> AlertState:
    data: dict[str, Any] = {
        "limit": record.limit,
        "current": record.current,
        "peak": record.peak,
        "peak_limit": record.peak_limit,
        "samples": [[s.at, s.current, s.idle] for s in record.samples],
        "fingerprint": record.fingerprint,
        "notified_at": record.notified_at,
        "recovered_at": record.recovered_at,
        "reason": record.reason,
    }
    return AlertState(
        cluster=record.cluster,
        entity_kind=record.kind.value,
        entity=record.entity,
        level=record.status.value,
        since=record.since,
        updated_at=record.updated_at,
        data=data,
        channel=record.channel,
        message_ts=record.message_ts,
        version=record.version,
    )


def from_state(state: AlertState) -> AlertRecord | None:
    """The record, or None for a row this module did not write (another kind or status)."""
    try:
        kind = EntityKind(state.entity_kind)
        status = Status(state.level)
    except ValueError:
        return None
    data: Mapping[str, Any] = state.data
    recovered_at = data.get("recovered_at")
    return AlertRecord(
        cluster=state.cluster,
        kind=kind,
        entity=state.entity,
        status=status,
        since=state.since,
        updated_at=state.updated_at,
        channel=state.channel,
        message_ts=state.message_ts,
        version=state.version,
        limit=int(data.get("limit", 0)),
        current=int(data.get("current", 0)),
        peak=int(data.get("peak", 0)),
        peak_limit=int(data.get("peak_limit", 0)),
        samples=_samples(data.get("samples", [])),
        fingerprint=str(data.get("fingerprint", "")),
        notified_at=float(data.get("notified_at", 0.0)),
        recovered_at=float(recovered_at) if recovered_at is not None else None,
        reason=str(data.get("reason", "")),
    )


def _samples(raw: object) -> tuple[Sample, ...]:
    if not isinstance(raw, Sequence):
        return ()
    out = []
    for item in raw:
        if isinstance(item, Sequence) and len(item) == 3:
            out.append(Sample(at=float(item[0]), current=int(item[1]), idle=int(item[2])))
    return tuple(out)
