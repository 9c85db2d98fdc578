"""pg_stat_activity rows made into the snapshot's sessions and groups.

Pure (no database access): live diagnosis and a pasted pg_stat_activity table both read their
rows into the same objects here, so the same triage runs on either.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.diagnostics.model import Session, SessionGroup

# The oldest sessions listed per state: enough to count stuck sessions exactly in real incidents
# (role limits are rarely above this) while bounding what a snapshot carries on a server with
# thousands of idle sessions.
OLDEST_LISTED = 200


class ActivityRow(Protocol):
    """The pg_stat_activity columns a session is made from."""

    @property
    def pid(self) -> int: ...
    @property
    def role(self) -> str | None: ...
    @property
    def database(self) -> str | None: ...
    @property
    def application(self) -> str: ...
    @property
    def client(self) -> str: ...
    @property
    def state(self) -> str | None: ...
    @property
    def backend_start(self) -> datetime | None: ...
    @property
    def xact_start(self) -> datetime | None: ...
    @property
    def state_change(self) -> datetime | None: ...
    @property
    def wait_event(self) -> str | None: ...
    @property
    def query(self) -> str | None: ...


def session(row: ActivityRow, now: datetime) -> Session:
    """One session, its ages measured at `now` (never negative)."""

    def age(ts: datetime | None) -> float | None:
        return max((now - ts).total_seconds(), 0.0) if ts else None

    return Session(
        pid=row.pid,
        role=row.role,
        database=row.database,
        application=row.application,
        client=row.client,
        state=row.state,
        backend_start=row.backend_start or now,
        state_change=row.state_change,
        xact_start=row.xact_start,
        state_age_s=age(row.state_change),
        xact_age_s=age(row.xact_start),
        wait_event=row.wait_event,
        query=row.query,
    )


def oldest(rows: Sequence[ActivityRow], state: str, now: datetime) -> tuple[Session, ...]:
    """The sessions in `state`, longest in it first."""
    matching = [r for r in rows if r.state == state and r.state_change is not None]
    matching.sort(key=lambda r: r.state_change or now)
    return tuple(session(r, now) for r in matching[:OLDEST_LISTED])


def groups(rows: Sequence[ActivityRow]) -> tuple[SessionGroup, ...]:
    """Sessions counted by role, database, application, client and state, largest first."""
    Key = tuple[str | None, str | None, str, str, str | None]
    counts: Counter[Key] = Counter()
    first: dict[Key, datetime] = {}
    for r in rows:
        key = (r.role, r.database, r.application, r.client, r.state)
        counts[key] += 1
        if r.state_change and (key not in first or r.state_change < first[key]):
            first[key] = r.state_change
    return tuple(
        SessionGroup(
            role=k[0],
            database=k[1],
            application=k[2],
            client=k[3],
            state=k[4],
            count=n,
            oldest_state_change=first.get(k),
        )
        for k, n in counts.most_common()
    )
