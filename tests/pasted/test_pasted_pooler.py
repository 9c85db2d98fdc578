"""Pasted PgBouncer output (SHOW POOLS, SHOW CONFIG, pgbouncer.ini) gives the live findings."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.pasted import read
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage import FindingCode, triage
from bot.triage.model import Report
from tests import bouncer, pg
from tests.factories import said
from tests.pasted.psql import console

pytestmark = pytest.mark.pgbouncer


def _pooler_findings(report: Report) -> set[tuple[str, str, int | None, int | None]]:
    return {
        (f.code, f.title.split(" (oldest")[0], f.current, f.limit)  # the wait grows meanwhile
        for f in report.findings
        if f.code.startswith("pooler_")
    }


@pytest.mark.parametrize("form", [(), ("-x",)], ids=["aligned", "expanded"])
def test_pasted_pools_and_ini_match_the_live_console(
    cluster: throwaway.ThrowawayCluster, form: tuple[str, ...]
) -> None:
    bouncer.require()
    app = pg.unique("app")
    pw = pg.create_role(cluster, app)
    conns: list[psycopg.Connection[Any]] = []
    workers = ThreadPoolExecutor(1)
    with bouncer.running(cluster, [app], {"default_pool_size": "2"}) as b:
        try:
            for _ in range(2):  # two transactions hold both server connections
                conn = psycopg.connect(b.dsn(app, pw), autocommit=False, prepare_threshold=None)
                conn.execute("SELECT 1")
                conns.append(conn)
            waiter = psycopg.connect(b.dsn(app, pw), autocommit=True, prepare_threshold=None)
            conns.append(waiter)
            queued = workers.submit(waiter.execute, "SELECT 1")
            deadline = time.monotonic() + 10
            # Queued for a second or more: worth a finding (triage's pooler_wait_warning_s).
            while not any(
                p["cl_waiting"] and p["maxwait"] >= 1
                for p in b.console("SHOW POOLS")
                if p["user"] == app
            ):
                assert time.monotonic() < deadline, "the third client never queued"
                time.sleep(0.05)
            pools = console(b, "SHOW POOLS", *form)
            config = console(b, "SHOW CONFIG")
            ini = (b.root / "pgbouncer.ini").read_text()
            live = analyse(
                [],
                ClusterConfig("c", cluster.dsn(), pgbouncer_dsn=b.console_dsn()),
                load_playbooks(),
            )
        finally:
            for c in conns[:2]:
                c.rollback()
            if conns[2:]:
                queued.result(10)
            for c in conns:
                c.close()

    # With a pooler in front, no pooler configuration is proposed.
    assert not any(e.startswith("A PgBouncer") for f in live.findings for e in said(f))
    for text in (f"{pools}\n{config}", f"{pools}\n{ini}"):
        pasted = read(text, signals.scan(text))
        assert pasted is not None and pasted.pooler is not None
        from_paste = triage(
            [], None, cluster=None, playbooks=load_playbooks(), pooler=pasted.pooler,
            notes=pasted.notes,
        )  # fmt: skip
        waiting = [f for f in from_paste.findings if f.code == FindingCode.POOLER_CLIENTS_WAITING]
        assert waiting and f"postgres/{app}" in waiting[0].title
        assert (waiting[0].current, waiting[0].limit) == (2, 2)
        mine = {x for x in _pooler_findings(live) if app in x[1]}
        assert mine and mine <= _pooler_findings(from_paste)
        assert any(n.startswith("PgBouncer from the paste (SHOW POOLS") for n in from_paste.notes)
