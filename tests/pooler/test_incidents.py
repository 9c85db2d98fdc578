"""Real incidents through a real PgBouncer (Debian's 1.18) in front of real PostgreSQL 15 and 18.

Every error text fed to the scanner is the one the refused client really got.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.diagnostics.keeper import Keepers
from bot.pgbouncer import pooler_levels
from bot.playbooks import load_playbooks
from bot.render.json import report_to_dict
from bot.render.text import render_text
from bot.service import analyse
from bot.signals.model import SignalKind
from bot.triage import FindingCode, Severity
from tests import bouncer, pg

pytestmark = pytest.mark.pgbouncer


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks()


@pytest.fixture(autouse=True)
def _needs_pgbouncer() -> None:
    bouncer.require()


class Clients:
    """Application connections through PgBouncer; all closed at exit."""

    def __init__(self) -> None:
        self.conns: list[psycopg.Connection[Any]] = []
        self.pool = ThreadPoolExecutor(4)

    def connect(self, dsn: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
        conn = psycopg.connect(dsn, autocommit=autocommit, prepare_threshold=None)
        self.conns.append(conn)
        return conn

    def refused(self, dsn: str) -> str:
        try:
            self.connect(dsn)
        except psycopg.OperationalError as exc:
            return str(exc)
        pytest.fail("PgBouncer accepted a client; expected a refusal")

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def clients() -> Iterator[Clients]:
    c = Clients()
    try:
        yield c
    finally:
        c.close()


def _wait_for(
    b: bouncer.Bouncer, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 10.0
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        pools = b.console("SHOW POOLS")
        if check(pools):
            return pools
        assert time.monotonic() < deadline, pools
        time.sleep(0.1)


def _config(server: throwaway.ThrowawayCluster, b: bouncer.Bouncer, **dsn: str) -> ClusterConfig:
    return ClusterConfig("bounced", server.dsn(**dsn), pgbouncer_dsn=b.console_dsn())


def _finding(report, code):
    found = [f for f in report.findings if f.code == code]
    assert found, [f.code for f in report.findings]
    return found[0]


def test_a_saturated_pool_queues_clients_and_the_finding_appears(cluster, playbooks):
    app = pg.unique("app")
    pw = pg.create_role(cluster, app)
    with bouncer.running(cluster, [app], {"default_pool_size": "2"}) as b, clients() as c:
        for _ in range(2):  # two transactions hold both server connections
            c.connect(b.dsn(app, pw), autocommit=False).execute("SELECT 1")
        waiter = c.connect(b.dsn(app, pw))
        queued = c.pool.submit(waiter.execute, "SELECT 1")
        _wait_for(
            b,
            lambda pools: any(
                p["user"] == app and p["cl_waiting"] == 1 and p["maxwait"] >= 1 for p in pools
            ),
        )

        report = analyse([], _config(cluster, b), playbooks)

        assert report.live
        assert report.pooler is not None
        finding = _finding(report, FindingCode.POOLER_CLIENTS_WAITING)
        assert finding.severity == Severity.WARNING
        assert f"postgres/{app}" in finding.title
        assert (finding.current, finding.limit) == (2, 2)
        assert any("1 waiting, the oldest for" in e for e in finding.evidence), finding.evidence
        assert any("at its pool_size (2)" in e for e in finding.evidence)
        assert finding.playbook is not None
        steps = " ".join(finding.playbook.now)
        assert f"1 client(s) wait in pool postgres/{app}" in steps
        # PostgreSQL has room: the advice is a pool one bigger.
        assert "raise the pool from 2 to 3" in steps
        levels = pooler_levels(report.pooler)
        assert levels.clients_waiting == 1
        assert levels.max_wait_s >= 1
        assert levels.waiting_pools[0].usage == 1.0

        for conn in c.conns[:2]:
            conn.rollback()
        assert queued.result(10) is not None


def test_max_client_conn_refusal_is_classified_and_diagnosed_live(cluster, playbooks):
    app = pg.unique("app")
    pw = pg.create_role(cluster, app)
    with bouncer.running(cluster, [app], {"max_client_conn": "4"}) as b, clients() as c:
        for _ in range(4):
            c.connect(b.dsn(app, pw))
        fatal = c.refused(b.dsn(app, pw))
        assert "FATAL:  no more connections allowed (max_client_conn)" in fatal

        found = signals.scan(fatal)
        assert [(s.kind, s.detail) for s in found] == [
            (SignalKind.POOLER_CLIENT_LIMIT, "max_client_conn")
        ]

        # The console is exempt from max_client_conn: pgconn still reads the pooler.
        report = analyse(found, _config(cluster, b), playbooks)

        top = report.findings[0]
        assert top.code == FindingCode.POOLER_CLIENT_LIMIT
        assert top.severity == Severity.CRITICAL
        assert (top.current, top.limit) == (4, 4)
        assert any("The paste shows this once" in e for e in top.evidence)
        assert any(f"{app}@postgres from 127.0.0.1: 4" in e for e in top.evidence), top.evidence
        assert top.playbook is not None
        assert "4 of max_client_conn 4" in " ".join(top.playbook.now)
        assert pooler_levels(report.pooler).client_usage == 1.0


@pytest.fixture(scope="module", params=pg.MAJORS, ids=[f"pg{m}" for m in pg.MAJORS])
def small(request) -> Iterator[throwaway.ThrowawayCluster]:
    """max_connections 8: on 15, 6 slots for ordinary roles; on 18, 5 (one more reserved)."""
    settings = {"max_connections": "8", "superuser_reserved_connections": "2"}
    if request.param >= 16:
        settings["reserved_connections"] = "1"
    server = pg.start(request.param, settings)
    yield server
    server.destroy()


def test_postgres_full_behind_pgbouncer_fails_its_server_logins(small, playbooks):
    app, other, monitor = pg.unique("app"), pg.unique("batch"), pg.unique("mon")
    pw, other_pw = pg.create_role(small, app), pg.create_role(small, other)
    mon_pw = pg.create_role(small, monitor, extra="IN ROLE pg_monitor")
    ordinary = 8 - 2 - (1 if small.major >= 16 else 0)
    keepers = Keepers()
    with bouncer.running(small, [app], {"default_pool_size": "3"}) as b, clients() as c:
        config = ClusterConfig(
            "bounced", small.dsn(user=monitor, password=mon_pw), pgbouncer_dsn=b.console_dsn()
        )
        keepers.warm([config])  # pgconn's own slot, held before the server fills
        try:
            with pg.holding(small) as h:
                h.open(ordinary - 1, other, other_pw, app="batch-job")  # bypasses PgBouncer
                # The client talks to PgBouncer and gets PostgreSQL's own FATAL.
                fatal = c.refused(b.dsn(app, pw))
                assert (
                    f"port {b.port} failed: FATAL:  remaining connection slots are reserved"
                    in fatal
                )
                found = signals.scan(fatal)
                assert [s.kind for s in found] == [SignalKind.RESERVED_SLOTS]

                report = analyse(found, config, playbooks, keepers=keepers)
                blind = analyse(found, config, playbooks)  # no kept connection: no PostgreSQL
        finally:
            keepers.close()

    assert report.live
    assert report.findings[0].code == FindingCode.RESERVED_SLOTS
    login = _finding(report, FindingCode.POOLER_SERVER_LOGIN)
    assert login.severity == Severity.CRITICAL
    assert f"postgres/{app}" in login.title
    assert login.role == app
    assert any(
        f"refuses new server connections for role {app}: every slot for ordinary roles is taken"
        in e
        for e in login.evidence
    ), login.evidence
    assert login.playbook is not None
    assert "Do not raise pool_size now" in " ".join(login.playbook.now)
    # The report's server finding names who holds the slots: the job that bypasses PgBouncer.
    assert any("batch-job" in e for e in report.findings[0].evidence)

    assert not blind.live
    assert blind.pooler is not None
    blind_login = _finding(blind, FindingCode.POOLER_SERVER_LOGIN)
    assert any(
        "the paste shows PostgreSQL refusing it (reserved_slots)" in e for e in blind_login.evidence
    )
    for shown in (render_text(report), str(report_to_dict(blind))):
        assert b.console_password not in shown
        assert mon_pw not in shown


def test_max_db_connections_queues_clients_silently(cluster, playbooks):
    app = pg.unique("app")
    pw = pg.create_role(cluster, app)
    entry = {"appdb": f"host=127.0.0.1 port={cluster.port} dbname=postgres max_db_connections=1"}
    with bouncer.running(cluster, [app], {"default_pool_size": "3"}, entry) as b, clients() as c:
        c.connect(b.dsn(app, pw, dbname="appdb"), autocommit=False).execute("SELECT 1")
        waiter = c.connect(b.dsn(app, pw, dbname="appdb"))
        queued = c.pool.submit(waiter.execute, "SELECT 1")
        _wait_for(b, lambda pools: any(p["database"] == "appdb" and p["cl_waiting"] for p in pools))

        report = analyse([], _config(cluster, b), playbooks)

        finding = _finding(report, FindingCode.POOLER_SERVER_LIMIT)
        assert "max_db_connections holds database appdb at 1/1" in finding.title
        assert (finding.current, finding.limit) == (1, 1)
        assert finding.playbook is not None
        assert "max_db_connections is 1 and 1 server connections are open" in " ".join(
            finding.playbook.now
        )
        c.conns[0].rollback()
        queued.result(10)
    # PgBouncer wrote nothing about it: the queueing is silent.
    assert "max_db_connections" not in b.log()


def test_session_state_on_a_transaction_mode_pool(cluster, playbooks):
    app, monitor = pg.unique("app"), pg.unique("mon")
    pw = pg.create_role(cluster, app)
    mon_pw = pg.create_role(cluster, monitor, extra="IN ROLE pg_monitor")
    entry = {"sessiondb": f"host=127.0.0.1 port={cluster.port} dbname=postgres pool_mode=session"}
    with bouncer.running(cluster, [app], {"default_pool_size": "2"}, entry) as b, clients() as c:
        shared = c.connect(b.dsn(app, pw))
        shared.execute("SELECT pg_advisory_lock(42)")
        shared.execute("LISTEN orders")
        # The same in a session-mode pool is fine.
        c.connect(b.dsn(app, pw, dbname="sessiondb")).execute("LISTEN orders")

        report = analyse([], _config(cluster, b, user=monitor, password=mon_pw), playbooks)

    states = [f for f in report.findings if f.code == FindingCode.POOLER_SESSION_STATE]
    assert len(states) == 1, [f.title for f in states]
    state = states[0]
    assert f"transaction-mode pool postgres/{app}" in state.title
    assert "LISTEN orders (1)" in state.title
    assert "session advisory lock (1)" in state.title
    assert state.playbook is not None
    assert any("pg_advisory_xact_lock" in step for step in state.playbook.now)


def test_an_unreachable_or_refusing_console_is_a_note_never_a_crash(cluster, playbooks):
    app = pg.unique("app")
    pw = pg.create_role(cluster, app)
    secret = "s3cret-console-pw"
    nowhere = ClusterConfig(
        "bounced",
        cluster.dsn(),
        pgbouncer_dsn=f"host=127.0.0.1 port={throwaway.free_port()} dbname=pgbouncer "
        f"user=pgconn_console password={secret} connect_timeout=2",
    )
    report = analyse([], nowhere, playbooks)
    assert report.live
    assert report.pooler is None
    assert any("PgBouncer's console for bounced could not be read" in n for n in report.notes)
    assert secret not in render_text(report)

    with bouncer.running(cluster, [app]) as b:
        # An application user is no console user.
        wrong = ClusterConfig(
            "bounced", cluster.dsn(), pgbouncer_dsn=b.dsn(app, pw, dbname="pgbouncer")
        )
        refused = analyse([], wrong, playbooks)
    assert refused.pooler is None
    note = next(n for n in refused.notes if "could not be read" in n)
    assert "not allowed" in note
    assert pw not in note
