"""Where each alert's triage was posted, so its later notifications stay in that thread.

Kept beside the incidents in the state store (the same rows, under an `alert:` key no cluster
name can take), so replicas sharing a PostgreSQL store share them and the incident's story can
be told from them; memory only where there is no store (tests of the rule itself).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.alerts import Alert
from bot.store import Store

FAR_PAST = -1.0


@dataclass(frozen=True)
class AlertThread:
    """Where an alert's triage was posted, and what has happened to it since."""

    cluster: str
    name: str
    fired_at: float
    channel: str | None = None
    thread_ts: str | None = None
    resolved_at: float | None = None
    refired: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("fired_at")
        return data

    @classmethod
    def from_json(cls, fired_at: float, d: Mapping[str, Any]) -> AlertThread:
        resolved = d.get("resolved_at")
        return cls(
            cluster=str(d.get("cluster") or ""),
            name=str(d.get("name") or ""),
            fired_at=fired_at,
            channel=d.get("channel"),
            thread_ts=d.get("thread_ts"),
            resolved_at=float(resolved) if resolved is not None else None,
            refired=int(d.get("refired") or 0),
        )


def thread_key(cluster: str, alert: Alert) -> str:
    return f"alert:{cluster}:{alert.key}"


class AlertThreads:
    """Claim, read and update alert threads, in the store (or memory without one)."""

    def __init__(self, store: Callable[[], Store] | None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._memory: dict[str, AlertThread] = {}

    def get(self, key: str) -> AlertThread | None:
        if self._store is None:
            with self._lock:
                return self._memory.get(key)
        found = self._store().get_incident(key)
        return AlertThread.from_json(*found) if found else None

    def claim(self, key: str, new: AlertThread, replaces: AlertThread | None) -> bool:
        """Record `new` if the key still holds `replaces` (None: nothing); True for one caller."""
        stale_before = replaces.fired_at + 1e-3 if replaces is not None else FAR_PAST
        if self._store is None:
            with self._lock:
                held = self._memory.get(key)
                if held is not None and held.fired_at >= stale_before:
                    return False
                self._memory[key] = new
                return True
        return self._store().claim_incident(
            key, new.to_json(), now=new.fired_at, stale_before=stale_before
        )

    def update(self, key: str, held: AlertThread, **changes: Any) -> AlertThread:
        new = replace(held, **changes)
        if self._store is None:
            with self._lock:
                if self._memory.get(key, new).fired_at == held.fired_at:
                    self._memory[key] = new
            return new
        self._store().update_incident(key, held.fired_at, new.to_json())
        return new
