"""Pool settings for the stack the paste (or application_name) shows, with numbers computed
from the limit the application is up against and its estimated replicas."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.advice.stacks import BY_APPLICATION, BY_SOURCE, STACKS, Stack
from bot.diagnostics.model import Snapshot
from bot.signals.model import Signal
from bot.triage.capacity import client_hosts
from bot.triage.codes import FindingCode
from bot.triage.draft import Draft
from bot.triage.sessions import Scope

# Findings whose limit an application pool has to fit in, most specific first.
_LIMITS = (
    FindingCode.ROLE_LIMIT,
    FindingCode.DATABASE_LIMIT,
    FindingCode.MAX_CONNECTIONS,
    FindingCode.RESERVED_SLOTS,
    FindingCode.SERVER_NEAR_FULL,
    FindingCode.APP_POOL_TIMEOUT,
    FindingCode.IDLE_SESSIONS,
    FindingCode.IDLE_IN_TRANSACTION,
)
_NUMBER = re.compile(r"(\w+)=(\d+)")


@dataclass(frozen=True, slots=True)
class Seen:
    """A stack, where it was recognised, and its role and current pool size when known."""

    stack: Stack
    where: str
    role: str | None = None
    pool_now: int | None = None


def detect(signals: Sequence[Signal], snapshot: Snapshot | None) -> list[Seen]:
    found: dict[str, Seen] = {}
    for s in signals:
        for word in (s.source, (s.detail or "").split(" ")[0]):
            sid = BY_SOURCE.get(word)
            if sid and sid not in found:
                found[sid] = Seen(STACKS[sid], f"the paste ({word})", s.role, _pool_now(s))
    if snapshot is not None:
        for g in snapshot.groups:
            name = g.application.lower()
            for key, sid in BY_APPLICATION.items():
                if key in name and sid not in found:
                    found[sid] = Seen(
                        STACKS[sid], f'application_name "{g.application}"', g.role, None
                    )
    return list(found.values())


def _pool_now(s: Signal) -> int | None:
    """The pool's current size as the pool timeout reported it."""
    numbers = {k: int(v) for k, v in _NUMBER.findall(s.detail or "")}
    if "pool_size" in numbers:
        return numbers["pool_size"] + numbers.get("overflow", 0)
    for key in ("total", "connection_limit", "max_pool_size"):
        if key in numbers:
            return numbers[key]
    return None


def _target(drafts: Sequence[Draft], role: str | None) -> Draft | None:
    for code in _LIMITS:
        for d in drafts:
            if d.code is code and (d.role in (None, role) or role is None):
                return d
    return None


def advise(drafts: Sequence[Draft], signals: Sequence[Signal], snapshot: Snapshot | None) -> None:
    """Add each recognised stack's pool settings to the finding whose limit its pool must fit."""
    for seen in detect(signals, snapshot):
        d = _target(drafts, seen.role)
        if d is None:
            continue
        d.advice.append(advice(seen, d, snapshot))


def budget(d: Draft, snapshot: Snapshot | None, role: str | None) -> tuple[int | None, str]:
    """The connections the application may hold, and what that number is."""
    if d.code is FindingCode.ROLE_LIMIT and d.limit is not None:
        return d.limit, f"role {d.role}'s CONNECTION LIMIT {d.limit}"
    if d.code is FindingCode.DATABASE_LIMIT and d.limit is not None:
        return d.limit, f"database {d.database}'s CONNECTION LIMIT {d.limit}"
    if snapshot is not None:
        r = snapshot.role(role) if role else None
        if r is not None and r.conn_limit >= 0 and not r.superuser:
            return r.conn_limit, f"role {r.name}'s CONNECTION LIMIT {r.conn_limit}"
        room = snapshot.server_headroom()
        if room.usable is not None:
            return room.usable, f"the server's {room.usable} slots for ordinary roles"
    return None, "the limit"


def advice(seen: Seen, d: Draft, snapshot: Snapshot | None) -> str:
    stack = seen.stack
    limit, what = budget(d, snapshot, seen.role or d.role)
    hosts = client_hosts(snapshot, Scope(role=seen.role or d.role)) if snapshot else None
    head = f"Pool settings for {stack.name} (recognised from {seen.where}; {stack.docs}): "
    now = f" Its pool is {seen.pool_now} now." if seen.pool_now is not None else ""
    if limit is None:
        return head + f"size {stack.names} so each replica holds at most {what} ÷ replicas." + now
    replicas = hosts or 1
    assumed = "" if hosts else " (the replicas are unknown: 1 is assumed)"
    per = max(1, limit // replicas)
    process = (
        " The pool is per process: divide by the processes each replica runs."
        if stack.per_process
        else ""
    )
    over = (
        f" {seen.pool_now} × {replicas} = {seen.pool_now * replicas} > {limit}: that is why it "
        "runs out."
        if seen.pool_now is not None and seen.pool_now * replicas > limit
        else ""
    )
    return (
        head + f"{what} ÷ {replicas} replica(s){assumed} = {per} per replica: "
        + stack.settings(per) + "." + process + now + over
    )  # fmt: skip
