"""The triage report: what is full, why, what to do now and later, and what could be run."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

from bot.diagnostics.model import Snapshot
from bot.headroom import Headroom
from bot.pgbouncer.model import PoolerSnapshot
from bot.signals.model import Signal


class Severity(IntEnum):
    """Ordered so that reports sort most urgent first."""

    INFO = 1
    WARNING = 2
    CRITICAL = 3


class ActionKind(StrEnum):
    TERMINATE = "terminate"
    CANCEL = "cancel"
    SET_ROLE_CONN_LIMIT = "set_role_conn_limit"
    SET_DATABASE_CONN_LIMIT = "set_database_conn_limit"
    SET_ROLE_IDLE_TX_TIMEOUT = "set_role_idle_in_transaction_timeout"


@dataclass(frozen=True, slots=True)
class SuggestedSql:
    """A statement shown to the user; identifiers and values are quoted by psycopg.sql."""

    purpose: str
    statement: str
    destructive: bool = False


@dataclass(frozen=True, slots=True)
class ProposedAction:
    """A fix that can be applied behind an approval. `params` are plain values (JSON-safe) that
    the remediation layer re-checks against the live server; `summary` says what it will free."""

    kind: ActionKind
    title: str
    summary: str
    params: dict[str, str | int | list[int]]


@dataclass(frozen=True, slots=True)
class PlaybookSection:
    """Rendered steps of one playbook for one finding."""

    playbook: str
    title: str
    now: tuple[str, ...]
    prevent: tuple[str, ...]
    sql: tuple[SuggestedSql, ...]
    # Statements left out because a value they need is unknown (no live data, or no room to
    # give), each as "purpose (needs <value>)", so the reader knows they exist.
    withheld: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One ranked conclusion with the evidence that supports it.

    `current` / `limit` are the live usage of the limit the finding is about (role, database,
    server slots), when there is one and it was seen: `headroom`'s used and usable.
    """

    code: str
    severity: Severity
    title: str
    evidence: tuple[str, ...]
    playbook: PlaybookSection | None = None
    actions: tuple[ProposedAction, ...] = ()
    role: str | None = None
    database: str | None = None
    current: int | None = None
    limit: int | None = None
    headroom: Headroom | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """What a user sees. `live` is False when no snapshot could be taken; `notes` explain why
    and what pgconn could not see. `pooler` is what PgBouncer's console showed, if read."""

    cluster: str | None
    headline: str
    findings: tuple[Finding, ...]
    signals: tuple[Signal, ...] = ()
    snapshot: Snapshot | None = None
    notes: tuple[str, ...] = field(default=())
    pooler: PoolerSnapshot | None = None

    @property
    def live(self) -> bool:
        return self.snapshot is not None
