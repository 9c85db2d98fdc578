"""Settings that give slots back, as statements fitting the server's version (15 and 18), and
long-running active queries holding slots."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import psycopg
import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.playbooks import load_playbooks
from bot.service import analyse
from bot.triage import DEFAULT_THRESHOLDS
from bot.triage.model import Report
from tests import pg
from tests.factories import said

# Every active query counts as long-running here: the test cannot wait minutes.
EAGER = replace(DEFAULT_THRESHOLDS, idle_tx_min_age_s=0)


def _evidence(report: Report) -> str:
    return "\n".join(e for f in report.findings for e in said(f))


def _role_statements(text: str, role: str) -> list[str]:
    return re.findall(rf"ALTER ROLE \"{re.escape(role)}\" SET \w+ = '[^']+'", text)


def test_statements_fit_the_version_and_run(
    cluster: throwaway.ThrowawayCluster, holder: pg.Holder
) -> None:
    role = pg.unique("slow_app")
    pw = pg.create_role(cluster, role, limit=2)
    holder.open(1, role, pw, app="reports")
    busy = psycopg.connect(cluster.dsn(user=role, password=pw, application_name="reports"))
    workers = ThreadPoolExecutor(1)
    try:
        running = workers.submit(busy.execute, "SELECT pg_sleep(30)")
        with pg.admin(cluster) as conn:
            deadline = time.monotonic() + 10
            while not conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE usename = %s AND state = 'active'", (role,)
            ).fetchone():
                assert time.monotonic() < deadline
                time.sleep(0.05)
        fatal = holder.refused(role, pw)
        report = analyse(
            signals.scan(fatal), ClusterConfig("c", cluster.dsn()), load_playbooks(),
            thresholds=EAGER,
        )  # fmt: skip
    finally:
        busy.cancel_safe()
        with pytest.raises(psycopg.errors.QueryCanceled):
            running.result(10)
        busy.close()
        workers.shutdown()

    text = _evidence(report)
    assert f"Settings that give {role}'s slots back" in text
    assert f"1 active session(s) of role {role} have run longer than 0 s" in text
    assert f'ALTER ROLE "{role}" SET statement_timeout' in text
    assert "client_connection_check_interval = '10s'" in text  # 14+: both majors
    if cluster.major >= 17:
        assert f'ALTER ROLE "{role}" SET transaction_timeout' in text
    else:
        assert "transaction_timeout needs PostgreSQL 17; this is 15" in text
    # Every statement offered runs on this server (then the role is put back as it was).
    offered = _role_statements(text, role)
    settings = {s.split(" SET ")[1].split(" =")[0] for s in offered}
    expected = {"idle_in_transaction_session_timeout", "idle_session_timeout", "statement_timeout"}
    assert settings == expected | ({"transaction_timeout"} if cluster.major >= 17 else set())
    with pg.admin(cluster) as conn:
        for statement in offered:
            conn.execute(statement.encode())
        conn.execute(f'ALTER ROLE "{role}" RESET ALL'.encode())
