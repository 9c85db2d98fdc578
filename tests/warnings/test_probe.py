"""The probe on real servers: one statement on a kept connection, re-opened when it dies,
read-only with its own timeouts, counting what PostgreSQL counts."""

from __future__ import annotations

import re

import psycopg
import pytest

from bot.config import ClusterConfig
from bot.diagnostics import queries
from bot.warnings import EntityKind, Probe
from bot.warnings.probe import Prober, probe_conninfo
from tests import pg


@pytest.mark.parametrize("version", [120000, 140000, 150000, 160000, 170000, 180000])
def test_the_probe_has_its_file(version):
    text = queries.query("probe", version)
    assert "pg_stat_get_activity(NULL)" in text
    assert not re.search(r"\{|%\(", text)
    assert text.count(";") == 0  # one statement


def test_one_statement_per_probe_on_a_kept_connection(cluster, holder):
    role = pg.unique("kept")
    password = pg.create_role(cluster, role, limit=5)
    holder.open(3, role, password, app="api", idle_in_transaction=True)
    prober = Prober(ClusterConfig("main", cluster.dsn()), timeout_s=5)
    sent: list[bytes] = []
    real = psycopg.Cursor.execute

    def spy(self, query, *args, **kwargs):
        sent.append(query)
        return real(self, query, *args, **kwargs)

    psycopg.Cursor.execute = spy  # type: ignore[method-assign]
    try:
        first = prober.probe()
        pid = prober.backend_pid
        second = prober.probe()
    finally:
        psycopg.Cursor.execute = real  # type: ignore[method-assign]
        prober.close()
    assert len(sent) == 2  # one statement (one round trip) per probe
    assert isinstance(first, Probe)
    assert isinstance(second, Probe)
    assert pid is not None
    usage = second.usage(EntityKind.ROLE, role)
    assert usage is not None
    assert (usage.current, usage.limit, usage.idle_in_transaction) == (3, 5, 3)
    assert usage.holders[0].application == "api"
    assert usage.holders[0].state == "idle in transaction"
    server = second.usage(EntityKind.SERVER)
    assert server is not None
    ordinary = (
        second.limits.max_connections
        - second.limits.superuser_reserved
        - (second.limits.reserved or 0)
    )
    # The probe's own session holds one ordinary slot and is not counted as used.
    assert server.headroom is not None and server.headroom.own == 1
    assert server.limit == ordinary - 1
    assert server.current + (server.headroom.free or 0) == server.limit


def test_a_dead_kept_connection_is_opened_again(cluster):
    prober = Prober(ClusterConfig("main", cluster.dsn()), timeout_s=5)
    try:
        assert isinstance(prober.probe(), Probe)
        pid = prober.backend_pid
        with pg.admin(cluster) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert isinstance(prober.probe(), Probe)  # same round, no failure reported
        assert prober.backend_pid not in (None, pid)
    finally:
        prober.close()


def test_the_connection_is_read_only_with_its_own_timeouts(cluster):
    with psycopg.connect(probe_conninfo(cluster.dsn(), 3), autocommit=True) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("statement_timeout", "default_transaction_read_only", "application_name")
        }
    assert settings == {
        "statement_timeout": "3s",
        "default_transaction_read_only": "on",
        "application_name": "pgconn",
    }


def test_superusers_and_unlimited_roles_are_not_entities(cluster, holder):
    limited, unlimited = pg.unique("lim"), pg.unique("unlim")
    su = pg.unique("su")
    pl = pg.create_role(cluster, limited, limit=4)
    pg.create_role(cluster, unlimited)
    pg.create_role(cluster, su, limit=2, extra="SUPERUSER")
    holder.open(1, limited, pl)
    prober = Prober(ClusterConfig("main", cluster.dsn()), timeout_s=5)
    try:
        probe = prober.probe()
    finally:
        prober.close()
    assert isinstance(probe, Probe)
    names = {(u.kind, u.name) for u in probe.usages}
    assert (EntityKind.ROLE, limited) in names
    assert (EntityKind.ROLE, unlimited) not in names
    assert (EntityKind.ROLE, su) not in names  # CONNECTION LIMIT does not bind a superuser


def test_without_pg_monitor_other_sessions_still_count(cluster, holder):
    role = pg.unique("app")
    password = pg.create_role(cluster, role, limit=4)
    holder.open(2, role, password)
    plain = pg.unique("nomon")
    plain_pw = pg.create_role(cluster, plain)
    prober = Prober(ClusterConfig("main", cluster.dsn(user=plain, password=plain_pw)), timeout_s=5)
    try:
        probe = prober.probe()
    finally:
        prober.close()
    assert isinstance(probe, Probe)
    usage = probe.usage(EntityKind.ROLE, role)
    assert usage is not None
    assert usage.current == 2
    assert usage.holders[0].state is None  # hidden from a role without pg_monitor
