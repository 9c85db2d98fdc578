"""The hard limits on a real server: superusers' sessions, pgconn's own, non-client backends
and the per-action cap; and a cancel that stops a query but keeps its session."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest

from bot.remediation import NothingToDoError, Outcome, proposal_of
from bot.triage.model import ActionKind, ProposedAction
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


def _by_application(app: str) -> ProposedAction:
    return ProposedAction(
        ActionKind.TERMINATE, "t", "s", {"application": app, "state": "idle", "min_age_s": 0}
    )


def test_superusers_sessions_only_when_allowed_and_possible(
    cluster: Any, holder: pg.Holder, rig: Rig
) -> None:
    app = pg.unique("batch")
    su = pg.unique("su")
    su_pw = pg.create_role(cluster, su, extra="SUPERUSER")
    plain = pg.unique("plain")
    plain_pw = pg.create_role(cluster, plain)
    [su_pid] = holder.open(1, su, su_pw, app=app)
    [plain_pid] = holder.open(1, plain, plain_pw, app=app)

    # Default: superusers' sessions are never selected.
    r = rig.remediation(config(cluster, admin_role(cluster), rig.tmp_path))
    proposal = r.propose("prod", _by_application(app))
    assert [t.pid for t in proposal.targets] == [plain_pid]
    assert [(e.pid, e.reason) for e in proposal.excluded] == [
        (su_pid, "a superuser's session (allow_superuser_targets is off)")
    ]
    assert "1 × a superuser's session" in proposal.blast_radius

    # Allowed, but the admin role is no superuser: PostgreSQL would refuse, pgconn leaves it.
    allowed = config(cluster, admin_role(cluster), rig.tmp_path, allow_superuser_targets=True)
    proposal = rig.remediation(allowed).propose("prod", _by_application(app))
    assert [e.reason for e in proposal.excluded] == [
        "a superuser's session, and the admin role is not a superuser"
    ]

    # Allowed, with a superuser admin role: selected and terminated.
    su_admin = config(
        cluster, admin_role(cluster, superuser=True), rig.tmp_path, allow_superuser_targets=True
    )
    r = rig.remediation(su_admin)
    req = r.request("prod", _by_application(app), REQUESTER)
    assert sorted(t.pid for t in proposal_of(req).targets) == sorted([su_pid, plain_pid])
    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    assert sorted(done.result.signalled) == sorted([su_pid, plain_pid])


def test_a_superuser_target_is_rechecked_at_execution(leak: Leak, rig: Rig) -> None:
    """A role made superuser between the request and the approval is left alone."""
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    req = r.request("prod", terminate(leak.role), REQUESTER)
    with pg.admin(leak.cluster) as conn:
        conn.execute(
            psycopg.sql.SQL("ALTER ROLE {} SUPERUSER").format(psycopg.sql.Identifier(leak.role))
        )
    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    assert done.result.signalled == ()
    assert {s.reason for s in done.result.skipped} == {
        "a superuser's session (allow_superuser_targets is off)"
    }
    assert leak.alive() == set(leak.pids)


@pytest.mark.parametrize("app", ["pgconn", "pgconn-store", "pgconn-admin"])
def test_pgconn_own_sessions_are_never_targeted(leak: Leak, rig: Rig, app: str) -> None:
    leak.holder.conns[0].close()  # make room in the role for a session named like pgconn's
    deadline = time.monotonic() + 5
    while leak.alive([leak.pids[0]]) and time.monotonic() < deadline:
        time.sleep(0.02)
    [own] = leak.holder.open(1, leak.role, leak.password, app=app)
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    proposal = r.propose("prod", terminate(leak.role))
    assert own not in {t.pid for t in proposal.targets}
    assert [(e.pid, e.reason) for e in proposal.excluded] == [(own, "pgconn's own session")]
    with pytest.raises(NothingToDoError, match="pgconn's own session"):
        r.propose("prod", _by_application(app))


def test_non_client_backends_are_never_targeted(cluster: Any, holder: pg.Holder, rig: Rig) -> None:
    role = pg.unique("replicator")
    pw = pg.create_role(cluster, role, extra="REPLICATION")
    [client] = holder.open(1, role, pw)
    walsender = psycopg.connect(
        cluster.dsn(user=role, password=pw, replication="database"), autocommit=True
    )
    try:
        r = rig.remediation(config(cluster, admin_role(cluster), rig.tmp_path))
        everything = ProposedAction(ActionKind.TERMINATE, "t", "s", {"role": role})
        proposal = r.propose("prod", everything)
        assert [t.pid for t in proposal.targets] == [client]
        assert [(e.pid, e.reason) for e in proposal.excluded] == [
            (walsender.info.backend_pid, "not a client backend (walsender)")
        ]
    finally:
        walsender.close()


def test_max_sessions_per_action_caps_and_takes_the_oldest(
    cluster: Any, holder: pg.Holder, rig: Rig
) -> None:
    role = pg.unique("app_user")
    pw = pg.create_role(cluster, role)
    pids = []
    for _ in range(5):
        pids += holder.open(1, role, pw)
        time.sleep(0.01)
    r = rig.remediation(
        config(cluster, admin_role(cluster), rig.tmp_path, max_sessions_per_action=2)
    )
    req = r.request("prod", terminate(role), REQUESTER)
    proposal = proposal_of(req)
    assert [t.pid for t in proposal.targets] == pids[:2]
    assert proposal.over_cap == 3
    assert "max_sessions_per_action is 2" in proposal.blast_radius
    done = r.approve(req.id, APPROVER)
    assert done.result is not None
    assert sorted(done.result.signalled) == sorted(pids[:2])
    with pg.admin(cluster) as conn:
        left = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE usename = %s", [role]
        ).fetchall()
    assert sorted(p for (p,) in left) == sorted(pids[2:])


def test_nothing_matching_is_nothing_to_approve(leak: Leak, rig: Rig) -> None:
    r = rig.remediation(config(leak.cluster, admin_role(leak.cluster), rig.tmp_path))
    with pytest.raises(NothingToDoError, match="No session matches"):
        r.request("prod", terminate(leak.role, state="idle in transaction"), REQUESTER)
    assert r.store.audit(limit=1)[0].event == "refused"


def test_cancel_stops_the_query_and_keeps_the_session(
    cluster: Any, holder: pg.Holder, rig: Rig
) -> None:
    role = pg.unique("reporting")
    pw = pg.create_role(cluster, role)
    [pid] = holder.open(1, role, pw, app="report")
    errors: list[BaseException] = []

    def long_query() -> None:
        try:
            holder.conns[-1].execute("SELECT pg_sleep(20)")
        except psycopg.Error as exc:
            errors.append(exc)

    worker = threading.Thread(target=long_query)
    worker.start()
    try:
        time.sleep(1.2)
        r = rig.remediation(config(cluster, admin_role(cluster), rig.tmp_path))
        cancel = ProposedAction(ActionKind.CANCEL, "t", "s", {"role": role, "min_age_s": 1})
        req = r.request("prod", cancel, REQUESTER)
        [target] = proposal_of(req).targets
        assert target.pid == pid
        assert target.query
        assert "pg_sleep" in target.query
        assert "Frees no connection slot" in proposal_of(req).blast_radius
        done = r.approve(req.id, APPROVER)
    finally:
        worker.join(timeout=30)
    assert done.outcome is Outcome.DONE
    assert done.result is not None
    assert done.result.signalled == (pid,)
    assert done.result.gone == ()
    assert len(errors) == 1
    assert isinstance(errors[0], psycopg.errors.QueryCanceled)
    with pg.admin(cluster) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]
        ).fetchone() == (1,)


def test_a_cancel_of_a_query_that_finished_is_skipped(
    cluster: Any, holder: pg.Holder, rig: Rig
) -> None:
    role = pg.unique("reporting")
    pw = pg.create_role(cluster, role)
    holder.open(1, role, pw, app="report")
    conn = holder.conns[-1]
    worker = threading.Thread(target=conn.execute, args=("SELECT pg_sleep(2)",))
    worker.start()
    time.sleep(1.1)
    r = rig.remediation(config(cluster, admin_role(cluster), rig.tmp_path))
    cancel = ProposedAction(ActionKind.CANCEL, "t", "s", {"role": role, "min_age_s": 1})
    req = r.request("prod", cancel, REQUESTER)
    worker.join()
    # A new query runs now, long enough to be over the threshold: still not the approved one.
    again = threading.Thread(target=conn.execute, args=("SELECT pg_sleep(2.5)",))
    again.start()
    try:
        time.sleep(1.3)
        done = r.approve(req.id, APPROVER)
    finally:
        again.join()
    assert done.result is not None
    assert done.result.signalled == ()
    [skipped] = done.result.skipped
    assert "different query" in skipped.reason
