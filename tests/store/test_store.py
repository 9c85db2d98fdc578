"""The state store on both backends: SQLite (a file) and PostgreSQL (a real server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store import AlertState, ApprovalRequest, ApprovalStatus, AuditEntry, Store, open_store
from tests import pg

P = ApprovalStatus.PENDING


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        s = open_store(tmp_path / "state.sqlite3")
    else:
        cluster = request.getfixturevalue("server15")
        db = pg.unique("state")
        with pg.admin(cluster) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        s = open_store(tmp_path / "unused", cluster.dsn(dbname=db))
    yield s
    s.close()


def _request(rid: str = "r1", expires_at: float = 2000.0) -> ApprovalRequest:
    return ApprovalRequest(
        id=rid,
        cluster="prod",
        action="terminate",
        params={"role": "app", "min_age_s": 600},
        targets=[{"pid": 42, "backend_start": "2026-11-22T01:00:00+00:00"}],
        statement="SELECT pg_terminate_backend(42)",
        requester="U1",
        status=P,
        created_at=1000.0,
        expires_at=expires_at,
        channel="C1",
        thread_ts="1.0",
    )


def test_approval_round_trip_and_compare_and_set(store):
    store.create_approval(_request())
    got = store.get_approval("r1")
    assert got is not None
    assert got.params == {"role": "app", "min_age_s": 600}
    assert got.targets[0]["pid"] == 42
    assert store.get_approval("nope") is None

    assert store.transition("r1", P, ApprovalStatus.APPROVED, now=1500.0, actor="U2")
    assert not store.transition("r1", P, ApprovalStatus.APPROVED, now=1500.0, actor="U3")
    assert store.transition(
        "r1", ApprovalStatus.APPROVED, ApprovalStatus.DONE, now=1501.0, result={"terminated": [42]}
    )
    done = store.get_approval("r1")
    assert done is not None
    assert (done.status, done.decided_by, done.result) == (
        ApprovalStatus.DONE,
        "U2",
        {"terminated": [42]},
    )


def test_expired_request_cannot_be_approved(store):
    store.create_approval(_request("old", expires_at=1100.0))
    assert [r.id for r in store.expired_pending(now=1200.0)] == ["old"]
    assert not store.transition("old", P, ApprovalStatus.APPROVED, now=1200.0, actor="U2")
    assert store.transition("old", P, ApprovalStatus.EXPIRED, now=0.0)
    assert store.expired_pending(now=1200.0) == []


def test_concurrent_approvals_run_once(store):
    store.create_approval(_request("race"))
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def approve(who: str) -> None:
        barrier.wait()
        wins.append(store.transition("race", P, ApprovalStatus.APPROVED, now=1500.0, actor=who))

    threads = [threading.Thread(target=approve, args=(f"U{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_audit_is_append_only_and_ordered(store):
    for i in range(3):
        store.append_audit(
            AuditEntry(
                at=1000.0 + i,
                event=f"e{i}",
                actor="U1",
                approval_id="r1",
                cluster="prod",
                details={"i": i},
            )
        )
    store.append_audit(AuditEntry(at=2000.0, event="other", actor="U9", cluster="dev"))
    entries = store.audit(cluster="prod")
    assert [e.event for e in entries] == ["e2", "e1", "e0"]
    assert [e.seq for e in entries] == [3, 2, 1]
    assert store.audit(approval_id="r1", limit=1)[0].details == {"i": 2}
    assert len(store.audit()) == 4


def test_audit_rows_cannot_be_changed(store):
    store.append_audit(AuditEntry(at=1.0, event="x", actor="U1"))
    with pytest.raises(Exception, match="append-only"):
        _tamper(store)
    assert store.audit()[0].actor == "U1"


def _tamper(store: Store) -> None:
    from bot.store.postgres import PostgresStore
    from bot.store.sqlite import SqliteStore

    if isinstance(store, SqliteStore):
        store._conn.execute("UPDATE audit SET actor = 'mallory'")
    elif isinstance(store, PostgresStore):
        with store._pool.connection() as conn:
            conn.execute("DELETE FROM audit")


def test_alert_state_optimistic_versions(store):
    new = AlertState(
        cluster="prod",
        entity_kind="role",
        entity="app",
        level="warning",
        since=10.0,
        updated_at=10.0,
        data={"usage": 17},
    )
    assert store.put_alert(new)
    assert not store.put_alert(new)  # a second writer that also read "absent"
    stored = store.get_alert("prod", "role", "app")
    assert stored is not None and stored.version == 1
    bumped = AlertState(**{**_fields(stored), "level": "critical", "updated_at": 20.0})
    assert store.put_alert(bumped)
    assert not store.put_alert(bumped)  # stale version
    assert store.get_alert("prod", "role", "app").level == "critical"  # type: ignore[union-attr]
    assert [a.entity for a in store.alerts("prod")] == ["app"]
    current = store.get_alert("prod", "role", "app")
    assert current is not None
    assert store.delete_alert(current)
    assert store.alerts() == []


def _fields(state: AlertState) -> dict:
    return {f: getattr(state, f) for f in state.__slots__}  # type: ignore[attr-defined]


def test_lease_is_held_by_one_until_it_expires(store):
    assert store.acquire_lease("warnings", "a", now=100.0, ttl_s=30)
    assert not store.acquire_lease("warnings", "b", now=110.0, ttl_s=30)
    assert store.acquire_lease("warnings", "a", now=120.0, ttl_s=30)  # renewal
    assert store.acquire_lease("warnings", "b", now=151.0, ttl_s=30)  # a died
    store.release_lease("warnings", "b")
    assert store.acquire_lease("warnings", "a", now=152.0, ttl_s=30)


def test_event_ids_are_seen_once(store):
    assert store.first_sight("Ev1", now=100.0)
    assert not store.first_sight("Ev1", now=101.0)
    assert store.first_sight("Ev1", now=100.0 + 7200)  # pruned after keep_s


def test_pending_request_survives_reopen(tmp_path):
    path = tmp_path / "s.sqlite3"
    s = open_store(path)
    s.create_approval(_request("keep"))
    s.close()
    again = open_store(path)
    assert again.get_approval("keep") is not None
    assert again.transition("keep", P, ApprovalStatus.APPROVED, now=1500.0, actor="U2")
    again.close()


def test_unreachable_postgres_store_error_has_no_password():
    from bot.errors import StoreError

    with pytest.raises(StoreError) as info:
        open_store(
            Path("/tmp/x"), "host=127.0.0.1 port=1 user=u password=Hidden-Pw-77 connect_timeout=1"
        )
    assert "Hidden-Pw-77" not in str(info.value)
    assert info.value.__cause__ is None  # psycopg's error would carry the DSN


def test_expire_is_a_compare_and_set_after_the_deadline(store):
    store.create_approval(_request("due", expires_at=1100.0))
    assert not store.expire("due", now=1099.0)  # not yet
    assert store.expire("due", now=1100.0)
    assert not store.expire("due", now=1200.0)  # only one caller expires it
    expired = store.get_approval("due")
    assert expired is not None
    assert (expired.status, expired.decided_at) == (ApprovalStatus.EXPIRED, 1100.0)
    assert not store.transition("due", P, ApprovalStatus.APPROVED, now=1000.0, actor="U2")
    store.create_approval(_request("taken", expires_at=1100.0))
    assert store.transition("taken", P, ApprovalStatus.APPROVED, now=1000.0, actor="U2")
    assert not store.expire("taken", now=1200.0)  # approved first: it stays approved


def test_an_incident_is_claimed_once_within_its_window(store):
    """A second report of a cluster within the window links the first; after it, or forced,
    it takes over; only the report that holds the row updates it."""
    assert store.claim_incident("prod", {"card_ts": None}, now=100.0, stale_before=-1.0)
    assert not store.claim_incident("prod", {"card_ts": "x"}, now=130.0, stale_before=100.0 - 1)
    assert store.get_incident("prod") == (100.0, {"card_ts": None})
    assert store.update_incident("prod", 100.0, {"card_ts": "1.2"})
    assert store.get_incident("prod") == (100.0, {"card_ts": "1.2"})
    assert store.claim_incident("prod", {"card_ts": None}, now=500.0, stale_before=200.0)
    assert not store.update_incident("prod", 100.0, {"card_ts": "old"})  # no longer its row
    assert store.get_incident("prod") == (500.0, {"card_ts": None})
    assert store.get_incident("other") is None
