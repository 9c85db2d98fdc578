"""A ProposedAction's params, checked: the values a fix may act on, typed.

Params arrive as plain JSON values (from triage, or back from a Slack button), so every one is
checked here before it reaches SQL, and a bad one is refused with the name of the param.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.remediation.errors import InvalidActionError
from bot.remediation.model import Criteria
from bot.triage.model import ActionKind, ProposedAction

IDLE_IN_TRANSACTION = ("idle in transaction", "idle in transaction (aborted)")
_STATES = {
    "idle",
    "active",
    "idle in transaction",
    "idle in transaction (aborted)",
    "fastpath function call",
    "disabled",
}
# PostgreSQL's units for time settings; a bare number is milliseconds.
_DURATION = re.compile(r"^(?:0|[1-9][0-9]{0,8})\s*(?:ms|s|min|h|d)?$")
_MAX_NAME_BYTES = 63  # NAMEDATALEN - 1: longer names cannot exist


@dataclass(frozen=True, slots=True)
class LimitChange:
    name: str  # the role or database
    limit: int


@dataclass(frozen=True, slots=True)
class TimeoutChange:
    role: str
    timeout: str


def _name(params: Mapping[str, object], key: str, *, required: bool) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise InvalidActionError(f"the action has no {key}; run the diagnosis again")
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidActionError(f"the action's {key} is not a name")
    if key in ("role", "database") and len(value.encode()) > _MAX_NAME_BYTES:
        raise InvalidActionError(f"the action's {key} is longer than PostgreSQL allows")
    return value


def _int(
    params: Mapping[str, object], key: str, *, lo: int, hi: int, default: int | None = None
) -> int:
    value = params.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidActionError(f"the action's {key} must be a whole number")
    if not lo <= value <= hi:
        raise InvalidActionError(f"the action's {key} must be between {lo} and {hi}")
    return value


def _states(kind: ActionKind, params: Mapping[str, object]) -> tuple[str, ...] | None:
    raw = params.get("states", params.get("state"))
    if raw is None:
        return ("active",) if kind is ActionKind.CANCEL else None
    listed = [raw] if isinstance(raw, str) else raw
    if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
        raise InvalidActionError("the action's state must be a session state")
    states: list[str] = []
    for s in listed:
        if s not in _STATES:
            raise InvalidActionError(f"unknown session state {s!r}")
        # An aborted transaction holds its slot just the same.
        states.extend(IDLE_IN_TRANSACTION if s == IDLE_IN_TRANSACTION[0] else (s,))
    if kind is ActionKind.CANCEL and set(states) != {"active"}:
        raise InvalidActionError("a cancel stops running queries: its state must be active")
    return tuple(dict.fromkeys(states))


def criteria(action: ProposedAction) -> Criteria:
    """The selection of a terminate or cancel."""
    p = action.params
    found = Criteria(
        role=_name(p, "role", required=False),
        database=_name(p, "database", required=False),
        application=_name(p, "application", required=False),
        client=_name(p, "client", required=False),
        states=_states(action.kind, p),
        min_age_s=float(_int(p, "min_age_s", lo=0, hi=10 * 365 * 86400, default=0)),
    )
    if found.role is None and found.application is None and found.client is None:
        raise InvalidActionError(
            "a session fix must name a role, an application or a client; pgconn never "
            "selects every session of a server"
        )
    return found


def limit_change(action: ProposedAction) -> LimitChange:
    key = "database" if action.kind is ActionKind.SET_DATABASE_CONN_LIMIT else "role"
    name = _name(action.params, key, required=True)
    assert name is not None
    return LimitChange(name, _int(action.params, "limit", lo=-1, hi=262_143))


def timeout_change(action: ProposedAction) -> TimeoutChange:
    role = _name(action.params, "role", required=True)
    assert role is not None
    raw = action.params.get("timeout")
    timeout = str(raw) if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not isinstance(timeout, str) or not _DURATION.match(timeout.strip()):
        raise InvalidActionError(
            "the action's timeout must be a duration such as 5min, 30s or 60000 (ms)"
        )
    return TimeoutChange(role, timeout.strip())
