"""pgconn's own connections to a cluster: one kept diagnostics connection per replica, shared
by the warnings probe, and a warning at start-up when the monitoring role cannot hold them."""

from __future__ import annotations

import pytest

from bot.config import ClusterConfig
from bot.diagnostics.keeper import Keepers, budget, budget_problem
from bot.throwaway import ThrowawayCluster
from bot.warnings.model import Probe
from bot.warnings.probe import Prober
from tests import pg

PASSWORD = "Budget-Pw-2231"


def _monitor(cluster: ThrowawayCluster, limit: int) -> ClusterConfig:
    role = pg.unique("pgconn_mon")
    pg.create_role(cluster, role, password=PASSWORD, limit=limit, extra="IN ROLE pg_monitor")
    return ClusterConfig("main", cluster.dsn(user=role, password=PASSWORD))


def _pgconn_sessions(cluster: ThrowawayCluster, dsn: str) -> int:
    user = dsn.split("user=")[1].split()[0]
    with pg.admin(cluster) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [user]
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_the_budget_is_two_per_replica() -> None:
    assert [budget(n) for n in (1, 2, 3)] == [2, 4, 6]
    assert budget_problem("m", -1, 3) is None
    assert budget_problem("m", 6, 3) is None
    problem = budget_problem("m", 3, 3)
    assert problem is not None and 'ALTER ROLE "m" CONNECTION LIMIT 6' in problem


@pytest.mark.parametrize(("limit", "warned"), [(3, True), (6, False)])
def test_a_limit_too_low_for_the_replicas_is_warned_at_start(
    cluster: ThrowawayCluster, limit: int, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    main = _monitor(cluster, limit)
    keepers = Keepers(replica_count=3)
    try:
        assert keepers.postgres(main).warm()
    finally:
        keepers.close()
    problem = keepers.budget_problems["main"]
    if warned:
        assert problem is not None and f"CONNECTION LIMIT {limit}" in problem
        assert "CONNECTION LIMIT 6" in caplog.text
    else:
        assert problem is None


def test_the_warnings_probe_runs_on_the_kept_connection(cluster: ThrowawayCluster) -> None:
    main = _monitor(cluster, 6)
    keepers = Keepers()
    try:
        keeper = keepers.postgres(main)
        assert keeper.warm()
        prober = Prober(main, timeout_s=5, keeper=keeper)
        for _ in range(3):
            outcome = prober.probe()
            assert isinstance(outcome, Probe), outcome
            assert _pgconn_sessions(cluster, main.dsn) == 1
        assert prober.backend_pid == keeper.backend_pid()
    finally:
        keepers.close()
