"""The store's operations, written once over a small DB-API surface that SQLite and
PostgreSQL backends provide. Statements live in `bot/store/sql/`, with `:name` parameters."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import Any

from bot.store.model import AlertState, ApprovalRequest, ApprovalStatus, AuditEntry

SQL_DIR = Path(__file__).resolve().parent / "sql"
FAR_PAST = -1.0


@cache
def statement(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8").strip()


def _dump(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Cursorish(ABC):
    """What a backend yields for one statement: rows as mappings and the affected count."""

    rowcount: int

    @abstractmethod
    def rows(self) -> list[Mapping[str, Any]]: ...


class Store(ABC):
    """Approvals, the audit log, alert state, leases and event de-duplication."""

    #: errors meaning "two writers raced on a unique key"; retried where that is safe
    integrity_errors: tuple[type[Exception], ...] = ()

    @abstractmethod
    def _run(self, name: str, params: Mapping[str, Any]) -> AbstractContextManager[Cursorish]:
        """Run statement `name` in its own transaction."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def healthy(self) -> bool: ...

    # --- approvals ----------------------------------------------------------------------

    def create_approval(self, req: ApprovalRequest) -> None:
        with self._run(
            "approval_insert",
            {
                "id": req.id,
                "cluster": req.cluster,
                "action": req.action,
                "params": _dump(req.params),
                "targets": _dump(req.targets),
                "statement": req.statement,
                "requester": req.requester,
                "channel": req.channel,
                "thread_ts": req.thread_ts,
                "message_ts": req.message_ts,
                "status": req.status.value,
                "created_at": req.created_at,
                "expires_at": req.expires_at,
            },
        ):
            pass

    def get_approval(self, approval_id: str) -> ApprovalRequest | None:
        with self._run("approval_get", {"id": approval_id}) as cur:
            rows = cur.rows()
        return _approval(rows[0]) if rows else None

    def transition(
        self,
        approval_id: str,
        from_status: ApprovalStatus,
        to_status: ApprovalStatus,
        *,
        now: float,
        actor: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """Move a request from one status to another; True for exactly one caller.

        Leaving PENDING also requires the request not to have expired at `now`.
        """
        with self._run(
            "approval_transition",
            {
                "id": approval_id,
                "from_status": from_status.value,
                "to_status": to_status.value,
                "actor": actor,
                "at": now if actor else None,
                "result": _dump(result) if result is not None else None,
                "not_after": now if from_status is ApprovalStatus.PENDING else FAR_PAST,
            },
        ) as cur:
            return cur.rowcount == 1

    def expire(self, approval_id: str, *, now: float) -> bool:
        """Move a pending request whose time is up to EXPIRED; True for exactly one caller."""
        with self._run("approval_expire", {"id": approval_id, "now": now}) as cur:
            return cur.rowcount == 1

    def set_approval_message(self, approval_id: str, message_ts: str) -> None:
        with self._run("approval_set_message", {"id": approval_id, "message_ts": message_ts}):
            pass

    def expired_pending(self, now: float) -> list[ApprovalRequest]:
        with self._run("approvals_expired", {"now": now}) as cur:
            return [_approval(r) for r in cur.rows()]

    def in_flight(self) -> list[ApprovalRequest]:
        """Requests claimed for running and not finished (running now, or left mid-way)."""
        with self._run("approvals_in_flight", {}) as cur:
            return [_approval(r) for r in cur.rows()]

    # --- audit --------------------------------------------------------------------------

    def append_audit(self, entry: AuditEntry) -> None:
        params = {
            "at": entry.at,
            "event": entry.event,
            "actor": entry.actor,
            "approval_id": entry.approval_id,
            "cluster": entry.cluster,
            "details": _dump(entry.details),
        }
        for attempt in range(8):
            try:
                with self._run("audit_append", params):
                    return
            except self.integrity_errors:
                # Two replicas took the same next sequence number; the loser takes the next.
                if attempt == 7:
                    raise

    def audit(
        self, *, limit: int = 100, cluster: str | None = None, approval_id: str | None = None
    ) -> list[AuditEntry]:
        """Newest first."""
        with self._run(
            "audit_list", {"limit": limit, "cluster": cluster, "approval_id": approval_id}
        ) as cur:
            return [
                AuditEntry(
                    seq=int(r["seq"]),
                    at=float(r["at"]),
                    event=r["event"],
                    actor=r["actor"],
                    approval_id=r["approval_id"],
                    cluster=r["cluster"],
                    details=json.loads(r["details"]),
                )
                for r in cur.rows()
            ]

    # --- alert state --------------------------------------------------------------------

    def get_alert(self, cluster: str, entity_kind: str, entity: str) -> AlertState | None:
        with self._run(
            "alert_get", {"cluster": cluster, "entity_kind": entity_kind, "entity": entity}
        ) as cur:
            rows = cur.rows()
        return _alert(rows[0]) if rows else None

    def alerts(self, cluster: str | None = None) -> list[AlertState]:
        with self._run("alert_list", {"cluster": cluster}) as cur:
            return [_alert(r) for r in cur.rows()]

    def put_alert(self, state: AlertState) -> bool:
        """Write `state` if the stored version is still `state.version` (0: not stored yet).
        False when another writer got there first: re-read and decide again."""
        params = {
            "cluster": state.cluster,
            "entity_kind": state.entity_kind,
            "entity": state.entity,
            "level": state.level,
            "channel": state.channel,
            "message_ts": state.message_ts,
            "since": state.since,
            "updated_at": state.updated_at,
            "data": _dump(state.data),
            "version": state.version,
        }
        try:
            with self._run("alert_put", params) as cur:
                return cur.rowcount == 1
        except self.integrity_errors:
            return False

    def delete_alert(self, state: AlertState) -> bool:
        with self._run(
            "alert_delete",
            {
                "cluster": state.cluster,
                "entity_kind": state.entity_kind,
                "entity": state.entity,
                "version": state.version,
            },
        ) as cur:
            return cur.rowcount == 1

    # --- incidents: the newest report of each cluster in chat ------------------------------

    def claim_incident(
        self, cluster: str, data: dict[str, Any], *, now: float, stale_before: float
    ) -> bool:
        """Record a new report of `cluster` unless one newer than `stale_before` is there."""
        params = {
            "cluster": cluster,
            "reported_at": now,
            "data": _dump(data),
            "stale_before": stale_before,
        }
        try:
            with self._run("incident_claim", params) as cur:
                return cur.rowcount == 1
        except self.integrity_errors:
            return False

    def get_incident(self, cluster: str) -> tuple[float, dict[str, Any]] | None:
        with self._run("incident_get", {"cluster": cluster}) as cur:
            rows = cur.rows()
        if not rows:
            return None
        return float(rows[0]["reported_at"]), json.loads(rows[0]["data"])

    def incidents(self, since: float) -> list[tuple[str, float, dict[str, Any]]]:
        """(key, reported_at, data) of every row reported since `since`, oldest first."""
        with self._run("incident_list", {"since": since}) as cur:
            rows = cur.rows()
        return [(r["cluster"], float(r["reported_at"]), json.loads(r["data"])) for r in rows]

    def update_incident(self, cluster: str, reported_at: float, data: dict[str, Any]) -> bool:
        params = {"cluster": cluster, "reported_at": reported_at, "data": _dump(data)}
        with self._run("incident_update", params) as cur:
            return cur.rowcount == 1

    # --- leases and events --------------------------------------------------------------

    def acquire_lease(self, name: str, holder: str, *, now: float, ttl_s: float) -> bool:
        """Take or renew `name` for `holder` until now + ttl; False while another holds it."""
        with self._run(
            "lease_acquire", {"name": name, "holder": holder, "now": now, "expires_at": now + ttl_s}
        ) as cur:
            return cur.rowcount == 1

    def release_lease(self, name: str, holder: str) -> None:
        with self._run("lease_release", {"name": name, "holder": holder}):
            pass

    # When this process last pruned old event ids: it runs on the Slack ack path, so at most
    # once a minute rather than on every event.
    _pruned_at = float("-inf")
    PRUNE_EVERY_S = 60.0

    def first_sight(self, event_id: str, *, now: float, keep_s: float = 3600) -> bool:
        """True the first time an event id is seen (across replicas); prunes old ids."""
        if now - self._pruned_at >= self.PRUNE_EVERY_S:
            with self._run("events_prune", {"before": now - keep_s}):
                pass
            self._pruned_at = now
        with self._run("event_seen", {"event_id": event_id, "at": now}) as cur:
            return cur.rowcount == 1


def _approval(r: Mapping[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(
        id=r["id"],
        cluster=r["cluster"],
        action=r["action"],
        params=json.loads(r["params"]),
        targets=json.loads(r["targets"]),
        statement=r["statement"],
        requester=r["requester"],
        status=ApprovalStatus(r["status"]),
        created_at=float(r["created_at"]),
        expires_at=float(r["expires_at"]),
        channel=r["channel"],
        thread_ts=r["thread_ts"],
        message_ts=r["message_ts"],
        decided_by=r["decided_by"],
        decided_at=float(r["decided_at"]) if r["decided_at"] is not None else None,
        result=json.loads(r["result"]) if r["result"] else None,
    )


def _alert(r: Mapping[str, Any]) -> AlertState:
    return AlertState(
        cluster=r["cluster"],
        entity_kind=r["entity_kind"],
        entity=r["entity"],
        level=r["level"],
        since=float(r["since"]),
        updated_at=float(r["updated_at"]),
        data=json.loads(r["data"]),
        channel=r["channel"],
        message_ts=r["message_ts"],
        version=int(r["version"]),
    )


_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def pyformat(sql: str) -> str:
    """`:name` parameters as psycopg's `%(name)s` (casts like `::text` are left alone)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("%", "%%"))


def split_script(sql: str) -> Iterator[str]:
    """The statements of a schema script: whole-line comments dropped, split on `;` (the
    schema has none inside a statement)."""
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    for part in code.split(";"):
        if part.strip():
            yield part.strip()
