"""What a fix will do, exactly, and what it did. Frozen and typed; JSON-safe dicts only at the
store boundary (`to_json` / `from_json`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.triage.model import ActionKind
from bot.triage.units import human_duration

SESSION_ACTIONS = frozenset({ActionKind.TERMINATE, ActionKind.CANCEL})

# pgconn's own connections: diagnostics, the PostgreSQL state store, the admin connection.
OWN_APPLICATIONS = ("pgconn", "pgconn-store", "pgconn-admin")


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class Criteria:
    """Which sessions a terminate or cancel selects. At least one of role, application or
    client is set: no fix ever selects every session of a server. `states` None: any state."""

    role: str | None = None
    database: str | None = None
    application: str | None = None
    client: str | None = None
    states: tuple[str, ...] | None = None
    min_age_s: float = 0.0

    def describe(self) -> str:
        """`role "app" in database "db", idle for more than 10 min`."""
        parts = []
        if self.role is not None:
            parts.append(f'role "{self.role}"')
        if self.application is not None:
            parts.append(f'application "{self.application}"')
        if self.client is not None:
            parts.append(f"client {self.client}")
        if self.database is not None:
            parts.append(f'in database "{self.database}"')
        state = " or ".join(self.states) if self.states else "in any state"
        age = f" for more than {human_duration(self.min_age_s)}" if self.min_age_s > 0 else ""
        return ", ".join(parts) + f", {state}{age}"

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "database": self.database,
            "application": self.application,
            "client": self.client,
            "states": list(self.states) if self.states is not None else None,
            "min_age_s": self.min_age_s,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Criteria:
        states = d.get("states")
        return cls(
            role=d.get("role"),
            database=d.get("database"),
            application=d.get("application"),
            client=d.get("client"),
            states=tuple(states) if states is not None else None,
            min_age_s=float(d.get("min_age_s") or 0.0),
        )


@dataclass(frozen=True, slots=True)
class Target:
    """One session as the requester saw it live. Execution signals it only if the same pid
    still has this backend_start (and, for a cancel, the same query_start)."""

    pid: int
    backend_start: datetime
    role: str | None
    database: str | None
    application: str
    client: str
    state: str | None
    state_age_s: float
    query_start: datetime | None = None
    query: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "backend_start": self.backend_start.isoformat(),
            "role": self.role,
            "database": self.database,
            "application": self.application,
            "client": self.client,
            "state": self.state,
            "state_age_s": round(self.state_age_s, 3),
            "query_start": _ts(self.query_start),
            "query": self.query,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Target:
        start = _dt(d["backend_start"])
        assert start is not None
        return cls(
            pid=int(d["pid"]),
            backend_start=start,
            role=d.get("role"),
            database=d.get("database"),
            application=d.get("application") or "",
            client=d.get("client") or "?",
            state=d.get("state"),
            state_age_s=float(d.get("state_age_s") or 0.0),
            query_start=_dt(d.get("query_start")),
            query=d.get("query"),
        )


@dataclass(frozen=True, slots=True)
class Excluded:
    """A session that matched the selection but that a hard limit leaves alone."""

    pid: int
    role: str | None
    application: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "role": self.role,
            "application": self.application,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Excluded:
        return cls(
            pid=int(d["pid"]),
            role=d.get("role"),
            application=d.get("application") or "",
            reason=str(d["reason"]),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """A limit or setting change: on which object, from what (read live) to what.

    `before` is also the precondition at execution: if the live value moved since the
    request, the change is left alone and reported.
    """

    object_kind: str  # "role" or "database"
    name: str
    setting: str  # "CONNECTION LIMIT" or a parameter name
    before: int | str | None
    after: int | str
    current_sessions: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "object_kind": self.object_kind,
            "name": self.name,
            "setting": self.setting,
            "before": self.before,
            "after": self.after,
            "current_sessions": self.current_sessions,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Change:
        return cls(
            object_kind=d["object_kind"],
            name=d["name"],
            setting=d["setting"],
            before=d.get("before"),
            after=d["after"],
            current_sessions=d.get("current_sessions"),
        )


@dataclass(frozen=True, slots=True)
class Proposal:
    """Exactly what an approver approves: the sessions (with the criteria that chose them) or
    the change, the statement shown, and the blast radius in words."""

    cluster: str
    kind: ActionKind
    title: str
    statement: str
    blast_radius: str
    criteria: Criteria | None = None
    targets: tuple[Target, ...] = ()
    excluded: tuple[Excluded, ...] = ()
    over_cap: int = 0  # matching sessions left for later by max_sessions_per_action
    change: Change | None = None
    notes: tuple[str, ...] = ()

    @property
    def on_sessions(self) -> bool:
        return self.kind in SESSION_ACTIONS

    def to_json(self) -> dict[str, Any]:
        """Everything but the targets and the statement, which the store keeps apart."""
        return {
            "kind": self.kind.value,
            "title": self.title,
            "blast_radius": self.blast_radius,
            "criteria": self.criteria.to_json() if self.criteria else None,
            "excluded": [e.to_json() for e in self.excluded],
            "over_cap": self.over_cap,
            "change": self.change.to_json() if self.change else None,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(
        cls, cluster: str, params: dict[str, Any], targets: list[dict[str, Any]], statement: str
    ) -> Proposal:
        criteria = params.get("criteria")
        change = params.get("change")
        return cls(
            cluster=cluster,
            kind=ActionKind(params["kind"]),
            title=params["title"],
            statement=statement,
            blast_radius=params["blast_radius"],
            criteria=Criteria.from_json(criteria) if criteria else None,
            targets=tuple(Target.from_json(t) for t in targets),
            excluded=tuple(Excluded.from_json(e) for e in params.get("excluded", [])),
            over_cap=int(params.get("over_cap") or 0),
            change=Change.from_json(change) if change else None,
            notes=tuple(params.get("notes") or ()),
        )


@dataclass(frozen=True, slots=True)
class Skipped:
    """A target left alone at execution, and why (what changed since the request)."""

    pid: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "reason": self.reason}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Skipped:
        return cls(pid=int(d["pid"]), reason=str(d["reason"]))


@dataclass(frozen=True, slots=True)
class ExecutionResult:
    """What ran and what it did.

    For sessions: `signalled` got the signal; of those, `gone` had exited when pgconn last
    looked (a terminated backend frees its slot only once it has exited). For a change:
    `changed` says whether the statement ran, `skipped` holds the reason when it did not.
    `headroom` is read from a fresh diagnosis taken afterwards.
    """

    kind: ActionKind
    statement: str
    signalled: tuple[int, ...] = ()
    gone: tuple[int, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    changed: bool = False
    freed: str = ""
    headroom: tuple[str, ...] = field(default=())

    @property
    def outcome_label(self) -> str:
        """What `freed` reports: slots freed by ending sessions, or a setting changed (a raised
        limit frees nothing; it makes room)."""
        return "Freed" if self.kind in (ActionKind.TERMINATE, ActionKind.CANCEL) else "Changed"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "statement": self.statement,
            "signalled": list(self.signalled),
            "gone": list(self.gone),
            "skipped": [s.to_json() for s in self.skipped],
            "changed": self.changed,
            "freed": self.freed,
            "headroom": list(self.headroom),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ExecutionResult:
        return cls(
            kind=ActionKind(d["kind"]),
            statement=d["statement"],
            signalled=tuple(int(p) for p in d.get("signalled", [])),
            gone=tuple(int(p) for p in d.get("gone", [])),
            skipped=tuple(Skipped.from_json(s) for s in d.get("skipped", [])),
            changed=bool(d.get("changed")),
            freed=str(d.get("freed") or ""),
            headroom=tuple(d.get("headroom") or ()),
        )
