"""One thread per incident: the newest report of each cluster in chat, where its card is and
what it showed, so that a repeat within minutes links that thread, and a fix or a later
diagnosis can edit the card.

Shared through the state store when one is configured for several replicas (`state_dsn`), else
kept in this process's memory, like event de-duplication.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.redact import redact_text
from bot.render import answer
from bot.store import Store
from bot.triage.model import Report

log = logging.getLogger("pgconn.slack")


@dataclass(frozen=True)
class Incident:
    """A report posted for `cluster`: its thread and card, the limit it was about (kind, name,
    used, limit) and the signals it had, to say what a repeat adds."""

    cluster: str
    reported_at: float
    since: float
    headline: str
    entity: dict[str, Any] | None = None
    signals: tuple[str, ...] = ()
    channel: str | None = None
    thread_ts: str | None = None
    card_ts: str | None = None
    closed: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("cluster")
        data.pop("reported_at")
        data["signals"] = list(self.signals)
        return data

    @classmethod
    def from_json(cls, cluster: str, reported_at: float, d: dict[str, Any]) -> Incident:
        return cls(
            cluster=cluster,
            reported_at=reported_at,
            since=float(d.get("since") or reported_at),
            headline=str(d.get("headline") or ""),
            entity=d.get("entity"),
            signals=tuple(d.get("signals") or ()),
            channel=d.get("channel"),
            thread_ts=d.get("thread_ts"),
            card_ts=d.get("card_ts"),
            closed=bool(d.get("closed")),
        )

    def fullness(self) -> answer.Fullness | None:
        e = self.entity
        if not e:
            return None
        return answer.Fullness(str(e["kind"]), e.get("name"), int(e["used"]), int(e["limit"]))


def signal_keys(report: Report) -> tuple[str, ...]:
    return tuple(answer.signal_key(s) for s in report.signals)


def describe(report: Report, now: float, since: float | None = None) -> Incident:
    """What is remembered of a report (before it is posted)."""
    assert report.cluster is not None
    full = answer.fullness(report.findings[0], report.snapshot) if report.findings else None
    return Incident(
        cluster=report.cluster,
        reported_at=now,
        since=since if since is not None else now,
        headline=report.headline,
        entity=asdict(full) if full is not None else None,
        signals=signal_keys(report),
    )


class Incidents:
    """Claim, read and update the newest report of a cluster."""

    def __init__(self, store: Callable[[], Store] | None) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._memory: dict[str, Incident] = {}

    def claim(self, new: Incident, stale_before: float) -> tuple[bool, Incident | None]:
        """(True, previous) when `new` is now the cluster's report; (False, current) when a
        report newer than `stale_before` is there."""
        previous = self.get(new.cluster)
        if self._store is None:
            with self._lock:
                held = self._memory.get(new.cluster)
                if held is not None and held.reported_at >= stale_before:
                    return False, held
                self._memory[new.cluster] = new
                return True, previous
        store = self._store()
        if store.claim_incident(
            new.cluster, new.to_json(), now=new.reported_at, stale_before=stale_before
        ):
            return True, previous
        return False, self.get(new.cluster)

    def get(self, cluster: str) -> Incident | None:
        if self._store is None:
            with self._lock:
                return self._memory.get(cluster)
        found = self._store().get_incident(cluster)
        return Incident.from_json(cluster, *found) if found else None

    def update(self, incident: Incident, **changes: Any) -> Incident:
        """Save changes to `incident` if it is still the cluster's report (else they are
        dropped: a newer report has its own card)."""
        new = replace(incident, **changes)
        if self._store is None:
            with self._lock:
                if self._memory.get(incident.cluster, new).reported_at == incident.reported_at:
                    self._memory[incident.cluster] = new
            return new
        try:
            self._store().update_incident(incident.cluster, incident.reported_at, new.to_json())
        except Exception as exc:  # the answer is posted; only the link for repeats is lost
            log.warning("could not record the incident: %s", redact_text(str(exc), []))
        return new
