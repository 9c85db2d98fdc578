"""The approval flow on a real server: a role at its limit with leaked idle sessions, from the
request to the freed slots, with every refusal, race and restart the issue lists."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from bot.remediation import NotConfiguredError, Outcome, Remediation, execute, proposal_of
from bot.remediation.admin import connect_admin
from bot.remediation.sweeper import ExpirySweeper
from bot.store import ApprovalStatus
from bot.throwaway import ThrowawayCluster
from tests import pg
from tests.remediation.conftest import (
    APPROVER,
    OTHER,
    REQUESTER,
    Leak,
    Rig,
    admin_role,
    config,
    terminate,
)

DOWN_DSN = "host=127.0.0.1 port=9 user=pgconn password=Down-Pw-7781 connect_timeout=2"


def _events(r: Remediation, approval_id: str) -> list[tuple[str, str]]:
    return [(e.event, e.actor) for e in reversed(r.store.audit(approval_id=approval_id))]


def test_leaked_sessions_are_freed_after_refusals_and_one_approval(
    leak: Leak, rig: Rig, holder: pg.Holder
) -> None:
    other_role = pg.unique("other")
    other_pw = pg.create_role(leak.cluster, other_role)
    bystanders = holder.open(2, other_role, other_pw, app="checkout")
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    counted = {e: _approvals_metric(e) for e in ("requested", "refused", "executed")}

    req = r.request("prod", terminate(leak.role), REQUESTER, channel="C1", thread_ts="1.1")
    proposal = proposal_of(req)
    assert sorted(t.pid for t in proposal.targets) == sorted(leak.pids)
    assert all(t.role == leak.role and t.state == "idle" for t in proposal.targets)
    assert "frees 3 connection slots" in proposal.blast_radius
    assert req.status is ApprovalStatus.PENDING

    # The requester may not approve their own fix; nor may someone who is not an approver.
    mine = r.approve(req.id, REQUESTER)
    assert mine.outcome is Outcome.REFUSED
    assert "two-person rule" in mine.message
    assert APPROVER in mine.message
    stranger = r.approve(req.id, OTHER)
    assert stranger.outcome is Outcome.REFUSED
    assert "not an approver" in stranger.message
    assert APPROVER in stranger.message
    assert leak.alive() == set(leak.pids)

    done = r.approve(req.id, APPROVER)
    assert done.outcome is Outcome.DONE, done.message
    assert done.result is not None
    assert sorted(done.result.signalled) == sorted(leak.pids)
    assert sorted(done.result.gone) == sorted(leak.pids)
    assert done.result.skipped == ()
    assert leak.alive() == set()
    assert leak.alive(bystanders) == set(bystanders)
    assert leak.can_connect()
    assert any(f'role "{leak.role}": 0 of 3' in line for line in done.result.headroom)

    stored = r.get(req.id)
    assert stored is not None
    assert stored.status is ApprovalStatus.DONE
    assert stored.decided_by == APPROVER
    assert _events(r, req.id) == [
        ("requested", REQUESTER),
        ("refused", REQUESTER),
        ("refused", OTHER),
        ("approved", APPROVER),
        ("executing", APPROVER),
        ("executed", APPROVER),
    ]
    executed = r.store.audit(approval_id=req.id, limit=1)[0].details
    assert sorted(executed["signalled"]) == sorted(leak.pids)
    assert "pg_terminate_backend" in executed["statement"]
    assert {e: _approvals_metric(e) - n for e, n in counted.items()} == {
        "requested": 1,
        "refused": 2,
        "executed": 1,
    }


def _approvals_metric(outcome: str) -> float:
    from bot.observability.metrics import REGISTRY

    return REGISTRY.get_sample_value("pgconn_approvals_total", {"outcome": outcome}) or 0.0


def test_a_session_that_reconnected_is_not_touched(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    req = r.request("prod", terminate(leak.role), REQUESTER)
    # The application drops one connection and opens a new one (the pid may even be reused).
    gone_pid = leak.pids[0]
    leak.holder.conns[0].close()
    _wait_gone(leak, gone_pid)
    [new_pid] = leak.holder.open(1, leak.role, leak.password, app="checkout")

    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    assert leak.alive([new_pid]) == {new_pid}
    assert sorted(done.result.signalled) == sorted(leak.pids[1:])
    [skipped] = done.result.skipped
    assert skipped.pid == gone_pid
    if new_pid == gone_pid:
        assert "different session" in skipped.reason
    else:
        assert "already ended" in skipped.reason


def _wait_gone(leak: Leak, pid: int) -> None:
    deadline = time.monotonic() + 5
    while leak.alive([pid]) and time.monotonic() < deadline:
        time.sleep(0.02)


def test_a_live_pid_with_another_backend_start_is_skipped(leak: Leak, rig: Rig) -> None:
    """What a reused pid looks like to the check: the pid is alive, its backend_start is not
    the approved one. Forcing the OS to reuse a pid is not practical, so the target is given a
    backend_start one second off, and the real statement runs on the real server."""
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    r = rig.remediation(cfg)
    proposal = r.propose("prod", terminate(leak.role))
    impostor, *rest = proposal.targets
    shifted = replace(impostor, backend_start=impostor.backend_start - timedelta(seconds=1))
    tampered = replace(proposal, targets=(shifted, *rest))
    dsn = cfg.clusters["prod"].admin_dsn
    assert dsn is not None
    with connect_admin(dsn, "prod") as conn:
        result = execute.run(conn, tampered, r.policy("prod"))
    [skipped] = result.skipped
    assert skipped.pid == impostor.pid
    assert "is now a different session" in skipped.reason
    assert sorted(result.signalled) == sorted(t.pid for t in rest)
    assert leak.alive() == {impostor.pid}


def test_a_session_that_became_active_is_skipped(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    req = r.request("prod", terminate(leak.role), REQUESTER)
    busy = leak.holder.conns[0]
    worker = threading.Thread(target=busy.execute, args=("SELECT pg_sleep(1.5)",))
    worker.start()
    try:
        _wait_state(leak, leak.pids[0], "active")
        done = r.approve(req.id, APPROVER)
    finally:
        worker.join()
    assert done.result is not None
    [skipped] = done.result.skipped
    assert skipped.pid == leak.pids[0]
    assert "now active" in skipped.reason
    assert leak.alive() == {leak.pids[0]}
    assert sorted(done.result.signalled) == sorted(leak.pids[1:])


def test_a_session_used_since_the_request_is_skipped(leak: Leak, rig: Rig) -> None:
    time.sleep(1.2)
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    req = r.request("prod", terminate(leak.role, min_age_s=1), REQUESTER)
    assert len(proposal_of(req).targets) == 3
    leak.holder.conns[1].execute("SELECT 1")  # idle again, but only just
    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    [skipped] = done.result.skipped
    assert skipped.pid == leak.pids[1]
    assert "it was used since" in skipped.reason
    assert leak.alive() == {leak.pids[1]}


def _wait_state(leak: Leak, pid: int, state: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with pg.admin(leak.cluster) as conn:
            row = conn.execute(
                "SELECT state FROM pg_stat_activity WHERE pid = %s", [pid]
            ).fetchone()
        if row and row[0] == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} never became {state}")


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_approvals_run_the_action_once(
    leak: Leak, rig: Rig, backend: str, server15: ThrowawayCluster
) -> None:
    approvers = [f"UAPP{i}" for i in range(6)]
    extra: dict[str, object] = {"approvers": approvers}
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path, **extra)
    if backend == "postgres":
        db = pg.unique("state")
        with pg.admin(server15) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        cfg = replace(cfg, state_dsn=server15.dsn(dbname=db))
    # Each approver's click lands on its own replica: its own store connection.
    replicas = [rig.remediation(cfg) for _ in approvers]
    req = replicas[0].request("prod", terminate(leak.role), REQUESTER)
    barrier = threading.Barrier(len(approvers))
    decisions = []

    def click(i: int) -> None:
        barrier.wait()
        decisions.append(replicas[i].approve(req.id, approvers[i]))

    threads = [threading.Thread(target=click, args=(i,)) for i in range(len(approvers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted(d.outcome.value for d in decisions)
    assert outcomes == sorted(["done"] + ["decided"] * (len(approvers) - 1))
    terminations = sum(len(d.result.signalled) for d in decisions if d.result)
    assert terminations == 3
    assert leak.alive() == set()
    events = [e.event for e in replicas[0].store.audit(approval_id=req.id)]
    assert events.count("executed") == 1
    assert events.count("approved") == 1
    # A double click (or Slack retrying the interaction) after the fact runs nothing either.
    again = replicas[1].approve(req.id, approvers[1])
    assert again.outcome is Outcome.DECIDED
    assert "has run" in again.message


def test_expired_requests_refuse_and_are_swept(leak: Leak, rig: Rig) -> None:
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path, approval_ttl_minutes=5)
    r = rig.remediation(cfg)
    late = r.request("prod", terminate(leak.role), REQUESTER)
    assert late.expires_at == rig.clock.now + 300
    rig.clock.now += 301
    decision = r.approve(late.id, APPROVER)
    assert decision.outcome is Outcome.EXPIRED
    assert "expired" in decision.message
    assert leak.alive() == set(leak.pids)
    assert r.reject(late.id, APPROVER).outcome is Outcome.DECIDED

    swept: list[str] = []
    unclicked = r.request("prod", terminate(leak.role), REQUESTER)
    sweeper = ExpirySweeper(r, lambda req: swept.append(req.id))
    assert sweeper.sweep() == 0
    rig.clock.now += 301
    assert sweeper.sweep() == 1
    assert sweeper.sweep() == 0
    assert swept == [unclicked.id]
    stored = r.get(unclicked.id)
    assert stored is not None
    assert stored.status is ApprovalStatus.EXPIRED
    assert [e for e, _ in _events(r, unclicked.id)] == ["requested", "expired"]
    assert leak.alive() == set(leak.pids)


def test_a_request_survives_a_restart(leak: Leak, rig: Rig) -> None:
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    before = rig.remediation(cfg)
    req = before.request("prod", terminate(leak.role), REQUESTER)
    before.store.close()
    rig.stores.remove(before.store)

    after = rig.remediation(cfg)  # a new process: a new store object on the same file
    pending = after.get(req.id)
    assert pending is not None
    assert pending.status is ApprovalStatus.PENDING
    done = after.approve(req.id, APPROVER)
    assert done.outcome is Outcome.DONE
    assert leak.alive() == set()


def test_without_admin_dsn_nothing_can_run(leak: Leak, rig: Rig) -> None:
    bare = rig.remediation(config(leak.cluster, None, rig.tmp_path))
    with pytest.raises(NotConfiguredError, match="no admin_dsn"):
        bare.request("prod", terminate(leak.role), REQUESTER)
    assert bare.not_configured("prod")

    # A request made while it was configured cannot run once admin_dsn is gone.
    armed = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    req = armed.request("prod", terminate(leak.role), REQUESTER)
    refused = bare.approve(req.id, APPROVER)
    assert refused.outcome is Outcome.REFUSED
    assert "not configured" in refused.message
    assert leak.alive() == set(leak.pids)
    assert [e for e, _ in _events(bare, req.id)] == ["requested", "refused"]
    assert bare.store.audit(limit=1, cluster="prod")[0].event == "refused"


def test_fixes_never_use_the_read_only_dsn(leak: Leak, rig: Rig) -> None:
    cfg = config(leak.cluster, admin_role(leak.cluster), rig.tmp_path)
    prod = cfg.clusters["prod"]
    cfg = replace(cfg, clusters={"prod": replace(prod, dsn=DOWN_DSN)})
    r = rig.remediation(cfg)
    req = r.request("prod", terminate(leak.role), REQUESTER)
    done = r.approve(req.id, APPROVER)
    assert done.outcome is Outcome.DONE
    assert leak.alive() == set()
    # Only the fresh diagnosis uses the read-only DSN; it fails and says so.
    assert done.result is not None
    assert "could not take a fresh diagnosis" in done.result.headroom[0]


def test_rejection_runs_nothing(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    req = r.request("prod", terminate(leak.role), REQUESTER)
    assert r.reject(req.id, OTHER).outcome is Outcome.REFUSED
    rejected = r.reject(req.id, APPROVER)
    assert rejected.outcome is Outcome.REJECTED
    assert r.approve(req.id, APPROVER).outcome is Outcome.DECIDED
    assert leak.alive() == set(leak.pids)
    assert [e for e, _ in _events(r, req.id)] == ["requested", "refused", "rejected"]


def test_a_failed_fix_is_recorded(leak: Leak, rig: Rig) -> None:
    admin_dsn = admin_role(leak.cluster)
    r = rig.remediation(config(leak.cluster, admin_dsn, rig.tmp_path))
    req = r.request("prod", terminate(leak.role), REQUESTER)
    admin_name = psycopg.conninfo.conninfo_to_dict(admin_dsn)["user"]
    with pg.admin(leak.cluster) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} NOLOGIN").format(psycopg.sql.Identifier(str(admin_name)))
        )
    failed = r.approve(req.id, APPROVER)
    assert failed.outcome is Outcome.FAILED
    assert "admin connection" in failed.message
    assert "Admin-Pw" not in failed.message
    assert leak.alive() == set(leak.pids)
    stored = r.get(req.id)
    assert stored is not None
    assert stored.status is ApprovalStatus.FAILED
    assert [e for e, _ in _events(r, req.id)][-1] == "failed"
