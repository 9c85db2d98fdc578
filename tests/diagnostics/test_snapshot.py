"""Diagnostics against real servers (15 and 18): numbers, visibility, and read-only safety."""

from __future__ import annotations

import re

import psycopg
import pytest

from bot.diagnostics import connect_readonly, diagnose, queries, snapshot
from bot.errors import CannotConnectError
from tests import pg


def test_role_and_database_usage_counts_real_sessions(cluster, holder):
    role, db = pg.unique("app"), pg.unique("shop")
    password = pg.create_role(cluster, role, limit=4)
    pg.create_database(cluster, db, limit=6)
    holder.open(3, role, password, dbname=db, app="checkout")
    holder.open(1, role, password, dbname=db, app="billing", idle_in_transaction=True)

    snap = diagnose(cluster.dsn(), "t")

    usage = snap.role(role)
    assert usage is not None
    assert (usage.conn_limit, usage.current) == (4, 4)
    dbu = snap.database(db)
    assert dbu is not None
    assert (dbu.conn_limit, dbu.current) == (6, 4)
    groups = {(g.application, g.state): g.count for g in snap.groups if g.role == role}
    assert groups == {("checkout", "idle"): 3, ("billing", "idle in transaction"): 1}
    assert [s.role for s in snap.oldest_idle_in_transaction].count(role) == 1
    assert snap.server_version_num // 10000 == cluster.major


def test_settings_are_the_servers_not_pgconns(cluster):
    snap = diagnose(cluster.dsn(), "t")
    s = snap.settings
    assert s.max_connections == 100
    assert s.superuser_reserved_connections == 3
    # pgconn bounds its own statements, but must report the server's value (0 here).
    assert s.statement_timeout_ms == 0
    assert s.idle_in_transaction_session_timeout_ms == 0
    if cluster.major >= 16:
        assert s.reserved_connections == 0
    else:
        assert s.reserved_connections is None
    assert s.ordinary_slots == 100 - 3 - (s.reserved_connections or 0)


def test_own_backend_is_excluded_from_every_count(cluster):
    with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND application_name <> 'pgconn' AND pid <> pg_backend_pid()"
        ).fetchone()
        assert others is not None
        snap = diagnose(cluster.dsn(), "t")
    # The checking connection above is still open and counted; pgconn's own is not.
    assert snap.client_backends == others[0] + 1
    assert all(g.application != "pgconn" for g in snap.groups)


def test_pg_monitor_role_sees_everything(cluster, holder):
    monitor, app = pg.unique("monitor"), pg.unique("app")
    pw = pg.create_role(cluster, monitor, extra="IN ROLE pg_monitor")
    app_pw = pg.create_role(cluster, app, limit=5)
    holder.open(2, app, app_pw, app="worker")

    snap = diagnose(cluster.dsn(user=monitor, password=pw), "t")

    assert snap.monitoring_role == monitor
    assert snap.blind_spots == ()
    states = {g.state for g in snap.groups if g.role == app}
    assert states == {"idle"}
    assert all(g.client == "127.0.0.1" for g in snap.groups if g.role == app)


def test_unprivileged_role_says_what_it_cannot_see(cluster, holder):
    nobody, app = pg.unique("nobody"), pg.unique("app")
    pw = pg.create_role(cluster, nobody)
    app_pw = pg.create_role(cluster, app)
    holder.open(2, app, app_pw)

    snap = diagnose(cluster.dsn(user=nobody, password=pw), "t")

    assert snap.role(app) is not None  # counts are still right
    assert snap.role(app).current == 2  # type: ignore[union-attr]
    assert any("hidden" in b and "pg_monitor" in b for b in snap.blind_spots)
    assert {g.state for g in snap.groups if g.role == app} == {None}


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE pgconn_must_not_exist (id int)",
        "CREATE ROLE pgconn_must_not_exist",
        "CREATE DATABASE pgconn_must_not_exist",
    ],
)
def test_diagnostics_connection_cannot_write(cluster, statement):
    """Even as superuser, the diagnostics connection refuses every write."""
    with (
        connect_readonly(cluster.dsn()) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        conn.execute(statement)


def test_refusal_is_reported_without_the_password(cluster):
    with pytest.raises(CannotConnectError) as info:
        diagnose(cluster.dsn(user="no_such_role", password="Sup3r-Secret-Pw"), "t")
    text = str(info.value)
    assert "password authentication failed" in text
    assert "Sup3r-Secret-Pw" not in text
    assert "Sup3r-Secret-Pw" not in repr(info.value.__cause__)


def test_one_round_trip_per_diagnosis(cluster):
    """Every query is sent in one message: the batch is a single simple-query string."""
    with connect_readonly(cluster.dsn()) as conn:
        sent: list[bytes] = []
        real_execute = psycopg.Cursor.execute

        def spy(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
            sent.append(query)
            return real_execute(self, query, *args, **kwargs)

        psycopg.Cursor.execute = spy  # type: ignore[method-assign]
        try:
            snapshot.take_snapshot(conn, "t")
        finally:
            psycopg.Cursor.execute = real_execute  # type: ignore[method-assign]
    assert len(sent) == 1


@pytest.mark.parametrize("version", [120000, 140000, 150000, 160000, 170000, 180000])
def test_every_query_the_code_asks_for_has_a_file(version):
    for name in snapshot.BATCH + snapshot.POOLED:
        text = queries.query(name, version)
        assert text and not re.search(r"\{|%\(", text), name


def test_versioned_query_is_chosen_by_server_version():
    # Before 16 only a superuser may use the (superuser) reserved slots.
    assert "r.rolsuper AS can_use_reserved" in queries.query("whoami", 150000)
    assert "pg_use_reserved_connections" in queries.query("whoami", 160000)


def test_time_settings_are_read_in_their_units(cluster):
    """SHOW renders durations with units ('90s', '2h'); they come back as plain numbers."""
    role = pg.unique("mon")
    pw = pg.create_role(cluster, role, extra="IN ROLE pg_monitor")
    with pg.admin(cluster) as conn:
        for setting, value in [
            ("idle_in_transaction_session_timeout", "90s"),
            ("statement_timeout", "1500ms"),
            ("tcp_keepalives_idle", "2h"),
        ]:
            conn.execute(f"ALTER ROLE {role} SET {setting} = '{value}'")
    s = diagnose(cluster.dsn(user=role, password=pw), "t").settings
    assert s.idle_in_transaction_session_timeout_ms == 90_000
    assert s.statement_timeout_ms == 1500
    assert s.tcp_keepalives_idle_s == 7200


@pytest.mark.parametrize(
    ("shown", "base", "expected"),
    [
        ("0", 1, 0),
        ("-1", 1, -1),
        ("250ms", 1, 250),
        ("30s", 1, 30_000),
        ("5min", 1, 300_000),
        ("2h", 1000, 7_200_000),
        ("1d", 1, 86_400_000),
        ("75", 1000, 75_000),
        (None, 1, None),
    ],
)
def test_duration_parsing(shown, base, expected):
    assert snapshot._duration_ms(shown, base) == expected
