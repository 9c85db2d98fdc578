"""Pooler usage levels, the numbers the warnings scheduler will compare with its thresholds."""

from __future__ import annotations

from bot.pgbouncer import pooler_levels
from tests.factories import pool, pooler_snapshot


def test_levels_of_a_reading():
    snap = pooler_snapshot(
        [
            pool("appdb", "app", cl_active=20, cl_waiting=4, sv_active=20, maxwait_s=2.5),
            pool("shop", "app", cl_active=3, sv_active=1, sv_idle=1),
            pool("pgbouncer", "pgbouncer", cl_active=1, pool_mode="statement"),
        ],
        used_clients=81,
        max_client_conn=100,
    )
    levels = pooler_levels(snap)
    assert levels.client_connections == 80  # the reading's own console connection left out
    assert levels.max_client_conn == 100
    assert levels.client_usage == 0.8
    assert levels.clients_waiting == 4
    assert levels.max_wait_s == 2.5
    assert [(p.database, p.usage) for p in levels.pools] == [("appdb", 1.0), ("shop", 0.1)]
    assert [p.database for p in levels.waiting_pools] == ["appdb"]


def test_an_idle_pooler_has_nothing_waiting():
    levels = pooler_levels(pooler_snapshot([], used_clients=1))
    assert levels.client_usage == 0.0
    assert levels.clients_waiting == 0
    assert levels.max_wait_s == 0.0
    assert levels.pools == ()
