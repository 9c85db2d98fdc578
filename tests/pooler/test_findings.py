"""Pooler findings from typed readings (no server): thresholds, causes, and their order."""

from __future__ import annotations

import pytest

from bot.diagnostics.model import SessionFeature
from bot.pgbouncer.model import PoolerUser
from bot.triage import FindingCode, Severity, triage
from bot.triage.pooler import pooler_server_fields
from tests.factories import (
    pool,
    pooler_client,
    pooler_server,
    pooler_snapshot,
    repo_playbooks,
    sessions,
    signal,
    snapshot,
)


def _report(pooler, snap=None, signals=(), **kwargs):
    return triage(
        list(signals), snap, cluster="prod", playbooks=repo_playbooks(), pooler=pooler, **kwargs
    )


def _codes(report):
    return [f.code for f in report.findings]


def _only(report, code):
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, _codes(report)
    return found[0]


def _room():
    return snapshot(sessions(10, role="app_user", state="active"), role_limits={"app_user": 50})


@pytest.mark.parametrize(
    ("maxwait", "timeout", "severity"),
    [
        (2.0, 120.0, Severity.WARNING),
        (6.0, 120.0, Severity.CRITICAL),
        (3.0, 4.0, Severity.CRITICAL),
    ],
)
def test_waiting_clients_by_how_long_the_oldest_waited(maxwait, timeout, severity):
    bouncer = pooler_snapshot(
        [pool(cl_active=20, cl_waiting=7, sv_active=20, maxwait_s=maxwait)],
        query_wait_timeout_s=timeout,
    )
    finding = _only(_report(bouncer, _room()), FindingCode.POOLER_CLIENTS_WAITING)
    assert finding.severity == severity
    assert finding.title.startswith("7 client(s) waiting in PgBouncer pool appdb/app_user")
    assert (finding.current, finding.limit) == (20, 20)
    assert finding.playbook is not None
    # The role has room (10 of 50): the pool may grow by the 7 waiting.
    assert "raise the pool from 20 to 27" in " ".join(finding.playbook.now)


def test_a_moment_of_waiting_is_only_a_full_pool():
    bouncer = pooler_snapshot([pool(cl_active=20, cl_waiting=1, sv_active=20, maxwait_s=0.2)])
    report = _report(bouncer, _room())
    assert _codes(report) == [FindingCode.POOLER_POOL_FULL]
    assert report.findings[0].severity == Severity.WARNING


def test_a_pool_with_room_is_no_finding():
    assert (
        _report(pooler_snapshot([pool(cl_active=5, sv_active=2, sv_idle=3)]), _room()).findings
        == ()
    )


def test_max_db_connections_is_one_finding_for_all_pools_of_the_database():
    pools = [
        pool("appdb", "app_user", cl_active=5, cl_waiting=3, sv_active=5, maxwait_s=8),
        pool("appdb", "reports", cl_active=5, cl_waiting=2, sv_active=5, maxwait_s=8),
    ]
    report = _report(pooler_snapshot(pools, db_max_connections=10), _room())
    finding = _only(report, FindingCode.POOLER_SERVER_LIMIT)
    assert "max_db_connections holds database appdb at 10/10" in finding.title
    assert finding.severity == Severity.CRITICAL
    assert sum("Pool appdb/" in e for e in finding.evidence) == 2


def test_max_user_connections_per_user_when_shown():
    bouncer = pooler_snapshot(
        [pool(cl_active=5, cl_waiting=1, sv_active=4, maxwait_s=2)],
        users=[PoolerUser("app_user", None, max_user_connections=4, current_connections=4)],
    )
    finding = _only(_report(bouncer, _room()), FindingCode.POOLER_SERVER_LIMIT)
    assert "max_user_connections holds user app_user at 4/4" in finding.title


def test_server_logins_fail_when_postgres_has_no_slot_for_the_pools_role():
    full = snapshot(
        sessions(16, role="other", state="active"),
        max_connections=20,
        superuser_reserved_connections=3,
        reserved_connections=0,
    )
    quiet = pooler_snapshot([pool(cl_active=2, sv_active=1)])
    waiting = pooler_snapshot([pool(cl_active=2, cl_waiting=3, sv_active=1, maxwait_s=0.3)])

    warning = _only(_report(quiet, full), FindingCode.POOLER_SERVER_LOGIN)
    critical = _only(_report(waiting, full), FindingCode.POOLER_SERVER_LOGIN)

    assert warning.severity == Severity.WARNING
    assert critical.severity == Severity.CRITICAL
    assert any(
        "every slot for ordinary roles is taken (16/16 usable, 3 reserved)" in e
        for e in critical.evidence
    ), critical.evidence
    assert critical.title.endswith("PostgreSQL is full")
    assert "(no client waiting now)" in warning.title
    assert critical.playbook is not None
    # The server's own finding comes first: that is where the fix is.
    assert _codes(_report(waiting, full))[0] == FindingCode.RESERVED_SLOTS


def test_a_role_at_its_limit_fails_the_pools_logins_and_names_the_role():
    at_limit = snapshot(sessions(10, role="app_user", state="active"), role_limits={"app_user": 10})
    bouncer = pooler_snapshot([pool(cl_active=12, cl_waiting=2, sv_active=10, maxwait_s=1)])
    finding = _only(_report(bouncer, at_limit), FindingCode.POOLER_SERVER_LOGIN)
    assert any("role app_user is at its CONNECTION LIMIT (10/10)" in e for e in finding.evidence)
    # Only the role is full: PostgreSQL itself is not, and the finding does not say it is.
    assert "PostgreSQL is full" not in finding.title
    assert finding.title.endswith("role app_user is at its CONNECTION LIMIT")
    assert finding.playbook is not None and "PostgreSQL is full" not in finding.playbook.title
    quiet = pooler_snapshot([pool(cl_active=2, sv_active=1)])
    idle = _only(_report(quiet, at_limit), FindingCode.POOLER_SERVER_LOGIN)
    assert idle.severity == Severity.WARNING
    assert "(no client waiting now)" in idle.title
    assert any("PostgreSQL would refuse new server connections" in e for e in idle.evidence)


def test_a_superuser_pool_role_is_not_blocked_by_the_reserve():
    full = snapshot(
        sessions(17, role="other", state="active"), max_connections=20, superusers=["app_user"]
    )
    bouncer = pooler_snapshot([pool(cl_active=2, sv_active=1)])
    assert FindingCode.POOLER_SERVER_LOGIN not in _codes(_report(bouncer, full))


def test_without_postgres_a_pasted_refusal_still_explains_the_pool():
    bouncer = pooler_snapshot([pool()])  # no clients left: the refusal drove them away
    report = _report(bouncer, None, [signal("max_connections")])
    finding = _only(report, FindingCode.POOLER_SERVER_LOGIN)
    assert finding.severity == Severity.CRITICAL
    assert any(
        "the paste shows PostgreSQL refusing it (max_connections)" in e for e in finding.evidence
    )
    # A role limit of another role does not concern this pool.
    other = _report(bouncer, None, [signal("role_limit", role="someone_else")])
    assert FindingCode.POOLER_SERVER_LOGIN not in _codes(other)


def test_session_state_is_flagged_on_shared_pools_only():
    rows = sessions(3, role="app_user", state="idle")
    pids = [s.pid for s in rows]
    features = [
        SessionFeature(pids[0], "app_user", "appdb", "set", "search_path"),
        SessionFeature(pids[1], "app_user", "appdb", "set", "application_name"),  # PgBouncer's
        SessionFeature(pids[2], "app_user", "appdb", "set", "intervalstyle"),
        SessionFeature(pids[2], "app_user", "appdb", "advisory_lock", None),
    ]
    snap = snapshot(rows, session_features=features)
    servers = [pooler_server(pid) for pid in pids]

    shared = pooler_snapshot(
        [pool(cl_active=1, sv_idle=3)], servers=servers, track_extra_parameters=("intervalstyle",)
    )
    finding = _only(_report(shared, snap), FindingCode.POOLER_SESSION_STATE)
    assert finding.title == (
        "Session state on transaction-mode pool appdb/app_user: SET search_path (1), "
        "session advisory lock (1)"
    )
    assert any("2 of the pool's 3 server connection(s)" in e for e in finding.evidence)

    session = pooler_snapshot([pool(cl_active=1, sv_idle=3, pool_mode="session")], servers=servers)
    assert FindingCode.POOLER_SESSION_STATE not in _codes(_report(session, snap))


@pytest.mark.parametrize(
    ("used", "signals", "severity", "title"),
    [
        (101, [], Severity.CRITICAL, "PgBouncer is at max_client_conn (100/100)"),
        (86, [], Severity.WARNING, "PgBouncer is near max_client_conn (85/100"),
        (
            11,
            [signal("pooler_client_limit", detail="max_client_conn")],
            Severity.WARNING,
            "PgBouncer refused clients at max_client_conn; 10/100 in use now",
        ),
    ],
)
def test_max_client_conn(used, signals, severity, title):
    clients = [pooler_client(addr="10.0.0.1", app="api")] * 6 + [pooler_client(state="waiting")]
    bouncer = pooler_snapshot(
        [pool(cl_active=10, sv_active=2, sv_idle=1)], clients=clients, used_clients=used
    )
    report = _report(bouncer, _room(), signals)
    finding = _only(report, FindingCode.POOLER_CLIENT_LIMIT)
    assert finding.severity == severity
    assert finding.title.startswith(title)
    assert any("app_user@appdb from 10.0.0.1 (api): 6" in e for e in finding.evidence)
    assert any("6 active, 1 waiting" in e for e in finding.evidence)
    assert any("3 server connection(s) to PostgreSQL in 1 pool(s)" in e for e in finding.evidence)
    if signals:
        assert any("The paste shows this once" in e for e in finding.evidence)


def test_a_client_limit_of_1_24_is_not_confused_with_max_client_conn():
    bouncer = pooler_snapshot([pool()], used_clients=99)
    pasted = signal("pooler_client_limit", detail="max_db_client_connections")
    report = _report(bouncer, _room(), [pasted])
    titles = [f.title for f in report.findings if f.code == FindingCode.POOLER_CLIENT_LIMIT]
    assert len(titles) == 2
    assert any("max_db_client_connections" in t for t in titles)


def test_a_pasted_wait_timeout_joins_the_live_queue_finding():
    bouncer = pooler_snapshot([pool(cl_active=20, cl_waiting=7, sv_active=20, maxwait_s=30)])
    report = _report(bouncer, _room(), [signal("pooler_wait_timeout", detail="query_wait_timeout")])
    assert FindingCode.POOLER_WAIT_TIMEOUT not in _codes(report)
    finding = _only(report, FindingCode.POOLER_CLIENTS_WAITING)
    assert any("The paste shows this once" in e for e in finding.evidence)


def test_focus_role_keeps_its_pools_only():
    pools = [
        pool("appdb", "app_user", cl_active=20, cl_waiting=3, sv_active=20, maxwait_s=9),
        pool("appdb", "reports", cl_active=20, cl_waiting=3, sv_active=20, maxwait_s=9),
    ]
    report = _report(pooler_snapshot(pools), _room(), focus_role="reports")
    (finding,) = report.findings
    assert "appdb/reports" in finding.title


def test_pool_sizes_against_the_roles_limit():
    pools = [pool("appdb"), pool("shop")]
    snap = snapshot(sessions(4, role="app_user"), role_limits={"app_user": 20})
    fields = pooler_server_fields(
        pooler_snapshot(pools, default_pool_size=15, reserve_pool_size=2), snap, "app_user"
    )
    assert fields["role_pools"] == "appdb 15+2, shop 15+2"
    assert fields["role_pooler_capacity"] == 34
    assert fields["role_conn_limit"] == 20
    assert fields["role_pool_size_fit"] == 8  # 2 pools × (8 + 2) = 20
    assert fields["pooler_capacity"] == 34


def test_every_finding_knows_the_pooler_numbers():
    snap = snapshot(sessions(20, role="app_user", state="active"), role_limits={"app_user": 20})
    bouncer = pooler_snapshot([pool("appdb"), pool("shop")], default_pool_size=15)
    report = _report(bouncer, snap)
    role = _only(report, FindingCode.ROLE_LIMIT)
    assert role.playbook is not None
    # The role's pools may open 30 server connections against its limit of 20.
    prevent = " ".join(role.playbook.prevent)
    assert (
        "pools for app_user (appdb 15+0, shop 15+0; pool_size + reserve_pool each) may open "
        "30 server connections against its CONNECTION LIMIT 20" in prevent
    )
    assert "at most pool_size 10 per pool fits" in prevent
    assert "max_user_connections = 20 for app_user" in prevent


def test_replicas_behind_pgbouncer_are_estimated_from_its_clients():
    from tests.factories import pooler_client

    at_limit = snapshot(
        sessions(10, role="app_user", state="active", client="10.0.9.9"),
        role_limits={"app_user": 10},
    )
    clients = [pooler_client(addr=a) for a in ("10.0.3.4", "10.0.3.5", "10.0.3.5", "10.0.3.6")]
    bouncer = pooler_snapshot(
        [pool(cl_active=4, sv_active=10, maxwait_s=0)], clients=clients, used_clients=5
    )
    role = _only(_report(bouncer, at_limit), FindingCode.ROLE_LIMIT)
    assert role.playbook is not None
    prevent = " ".join(role.playbook.prevent)
    assert "its clients there come from 3 hosts (an estimate of the application's replicas" in (
        " ".join(prevent.split())
    )
    assert "4 replicas" not in prevent
    # No client of its pools now: the count is said to be unknown.
    quiet = _only(_report(pooler_snapshot([pool(sv_active=10)]), at_limit), FindingCode.ROLE_LIMIT)
    assert quiet.playbook is not None
    assert "how many replicas connect to PgBouncer is unknown now" in " ".join(
        " ".join(quiet.playbook.prevent).split()
    )
