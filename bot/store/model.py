"""Records kept in the state store. JSON-safe payloads are plain dicts at this boundary only."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # approved, about to run (a claim: exactly one runner gets here)
    REJECTED = "rejected"
    EXPIRED = "expired"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A proposed action waiting for (or past) its approval. `targets` is what the requester
    saw (exact sessions with backend_start, or the statement's object) and what execution
    re-checks against the live server."""

    id: str
    cluster: str
    action: str
    params: dict[str, Any]
    targets: list[dict[str, Any]]
    statement: str
    requester: str
    status: ApprovalStatus
    created_at: float
    expires_at: float
    channel: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    decided_by: str | None = None
    decided_at: float | None = None
    result: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    event: str
    actor: str
    details: dict[str, Any] = field(default_factory=dict)
    approval_id: str | None = None
    cluster: str | None = None
    seq: int = 0  # assigned by the store


@dataclass(frozen=True, slots=True)
class AlertState:
    """One open alert per (cluster, entity kind, entity); `version` guards concurrent writers."""

    cluster: str
    entity_kind: str
    entity: str
    level: str
    since: float
    updated_at: float
    data: dict[str, Any] = field(default_factory=dict)
    channel: str | None = None
    message_ts: str | None = None
    version: int = 0
