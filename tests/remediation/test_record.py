"""The audit never misses a fix that ran: intent before acting, outcome after, and a store that
fails after the sessions were signalled only delays the record."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from bot.remediation.approvals import INTENT, RUN_BUDGET_S, Outcome
from bot.store import ApprovalStatus, AuditEntry
from tests import pg
from tests.remediation.conftest import (
    APPROVER,
    REQUESTER,
    Leak,
    Rig,
    admin_role,
    config,
    terminate,
)

LOCKED_S = 45.0


def _lock(path: Path, seconds: float) -> threading.Thread:
    """Hold the SQLite file's write lock for `seconds` from another connection, as another
    process (a backup tool, an operator's sqlite3 shell) would."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("BEGIN EXCLUSIVE")

    def release() -> None:
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()

    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(240)
def test_a_store_locked_after_the_signal_still_records_the_fix(leak: Leak, rig: Rig) -> None:
    if leak.cluster.major != 15:
        pytest.skip("the store's behaviour does not depend on the server; one major is enough")
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    locks: list[threading.Thread] = []

    def lock_then_diagnose(_cluster: object) -> None:
        # Runs after the sessions were signalled and before the request is marked done.
        locks.append(_lock(cfg.state_path, LOCKED_S))

    r = rig.remediation(cfg, diagnose=lock_then_diagnose)
    req = r.request("prod", terminate(leak.role), REQUESTER)
    decision = r.approve(req.id, APPROVER)
    assert locks
    locks[0].join(LOCKED_S + 5)

    assert decision.outcome is Outcome.DONE, decision.message
    assert leak.alive() == set()
    events = [(e.event, e.details) for e in reversed(r.store.audit(approval_id=req.id))]
    names = [name for name, _ in events]
    assert names.index("executing") < names.index("executed")
    intent = dict(events)["executing"]
    assert sorted(t["pid"] for t in intent["targets"]) == sorted(leak.pids)
    assert sorted(dict(events)["executed"]["signalled"]) == sorted(leak.pids)
    stored = r.store.get_approval(req.id)
    assert stored is not None and stored.status is ApprovalStatus.DONE


def test_a_store_that_cannot_take_the_intent_runs_nothing(leak: Leak, rig: Rig) -> None:
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    r = rig.remediation(cfg, outcome_retry_s=0.0)
    req = r.request("prod", terminate(leak.role), REQUESTER)
    original = r.store.append_audit

    def refuse_intent(entry):  # type: ignore[no-untyped-def]
        if entry.event == "executing":
            raise sqlite3.OperationalError("disk I/O error")
        original(entry)

    r.store.append_audit = refuse_intent  # type: ignore[method-assign]
    decision = r.approve(req.id, APPROVER)
    assert decision.outcome is Outcome.FAILED
    assert "nothing ran" in decision.message
    assert leak.alive() == set(leak.pids)


def test_a_run_left_mid_way_is_reconciled_against_the_live_server(leak: Leak, rig: Rig) -> None:
    """The process died after its intent (the targets were terminated meanwhile): once the
    runner's time is up, the request is settled from what the server shows."""
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    r = rig.remediation(cfg)
    req = r.request("prod", terminate(leak.role), REQUESTER)
    # What a runner killed mid-way leaves behind: the claim and the intent, no outcome.
    assert r.store.transition(
        req.id, ApprovalStatus.PENDING, ApprovalStatus.APPROVED, now=rig.clock(), actor=APPROVER
    )
    r.store.append_audit(
        AuditEntry(
            at=rig.clock(),
            event=INTENT,
            actor=APPROVER,
            approval_id=req.id,
            cluster="prod",
            details={"targets": req.targets, "deadline": rig.clock() + RUN_BUDGET_S},
        )
    )
    gone = leak.pids[:2]
    with pg.admin(leak.cluster) as conn:
        for pid in gone:
            conn.execute("SELECT pg_terminate_backend(%s)", [pid])

    settled, due = r.reconcile()
    assert settled == [] and due == rig.clock() + RUN_BUDGET_S  # its runner may still be at it
    rig.clock.now += RUN_BUDGET_S + 1
    wait_until(lambda: leak.alive() == set(leak.pids[2:]))
    [done] = r.reconcile()[0]
    assert done.status is ApprovalStatus.DONE
    assert done.result is not None and sorted(done.result["gone"]) == sorted(gone)
    [entry] = [e for e in r.store.audit(approval_id=req.id) if e.event == "reconciled"]
    assert sorted(entry.details["gone"]) == sorted(gone)
    assert entry.details["still_present"] == leak.pids[2:]
    assert r.reconcile()[0] == []  # settled once


def test_a_claim_without_intent_is_settled_as_not_run(leak: Leak, rig: Rig) -> None:
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    r = rig.remediation(cfg)
    req = r.request("prod", terminate(leak.role), REQUESTER)
    assert r.store.transition(
        req.id, ApprovalStatus.PENDING, ApprovalStatus.APPROVED, now=rig.clock(), actor=APPROVER
    )
    rig.clock.now += 3600
    [failed] = r.reconcile()[0]
    assert failed.status is ApprovalStatus.FAILED
    assert failed.result is not None and "nothing ran" in failed.result["error"]
    assert leak.alive() == set(leak.pids)


def wait_until(probe, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while not probe():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)
