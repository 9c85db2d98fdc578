"""PgBouncer's admin console: what psycopg must do to talk to it, and the typed reading."""

from __future__ import annotations

import psycopg
import pytest

from bot.errors import PoolerError
from bot.pgbouncer import (
    COMMANDS,
    build_pooler_snapshot,
    connect_console,
    read_pooler,
    take_pooler_snapshot,
)
from bot.pgbouncer.console import SHOW_CONFIG, SHOW_DATABASES, SHOW_LISTS, SHOW_POOLS, SHOW_USERS
from tests import bouncer, pg

pytestmark = pytest.mark.pgbouncer


@pytest.fixture(autouse=True)
def _needs_pgbouncer() -> None:
    bouncer.require()


@pytest.fixture
def app(cluster):
    name = pg.unique("app")
    return name, pg.create_role(cluster, name)


def test_every_show_command_reads_into_typed_objects(cluster, app):
    user, password = app
    settings = {"max_client_conn": "30", "reserve_pool_size": "1"}
    with bouncer.running(cluster, [user], settings) as b:
        client = psycopg.connect(b.dsn(user, password), prepare_threshold=None)
        try:
            client.execute("SELECT 1")
            snap = read_pooler(b.console_dsn())
        finally:
            client.close()

    assert snap.version == "1.18.0"
    assert snap.config.max_client_conn == 30
    assert snap.config.default_pool_size == 2
    assert snap.config.reserve_pool_size == 1
    assert snap.config.pool_mode == "transaction"
    assert snap.config.query_wait_timeout_s == 120
    assert snap.config.max_prepared_statements is None  # 1.21+ only
    (pool,) = snap.app_pools
    assert (pool.database, pool.user, pool.pool_mode) == ("postgres", user, "transaction")
    assert pool.cl_active == 1
    assert pool.servers == 1
    assert snap.pool_size(pool) == 2
    assert snap.reserve_pool(pool) == 1
    assert snap.server_role(pool) == user
    (client,) = snap.clients  # console clients, pgconn's included, are left out
    assert (client.user, client.database, client.addr) == (user, "postgres", "127.0.0.1")
    (server,) = snap.servers
    assert server.remote_pid is not None
    assert server.remote_pid > 0
    assert snap.database("postgres") is not None
    assert snap.user(user) is not None
    assert snap.lists.used_clients == 2  # the application and pgconn's console connection
    assert snap.client_connections == 1


def test_the_console_needs_the_simple_protocol_and_one_command_per_query(cluster, app):
    with bouncer.running(cluster, [app[0]]) as b:
        # psycopg prepares a query it has run five times: the console refuses that.
        with psycopg.connect(b.console_dsn(), autocommit=True) as conn:
            for _ in range(5):
                conn.execute(SHOW_POOLS)
            with pytest.raises(psycopg.errors.ProtocolViolation, match="extended query"):
                conn.execute(SHOW_POOLS)
        # It has no transactions, and takes one command per query.
        with (
            psycopg.connect(b.console_dsn(), prepare_threshold=None) as conn,
            pytest.raises(psycopg.errors.ProtocolViolation, match="BEGIN"),
        ):
            conn.execute(SHOW_POOLS)
        with (
            psycopg.connect(b.console_dsn(), autocommit=True, prepare_threshold=None) as conn,
            pytest.raises(psycopg.errors.ProtocolViolation),
        ):
            conn.execute(b"SHOW POOLS; SHOW LISTS")
        # pgconn's connection does it right, however often it is used.
        with connect_console(b.console_dsn()) as conn:
            for _ in range(8):
                assert take_pooler_snapshot(conn).config.default_pool_size == 2


def test_a_console_refusal_is_a_pooler_error_without_the_password(cluster, app):
    user, password = app
    with (
        bouncer.running(cluster, [user]) as b,
        pytest.raises(PoolerError, match="not allowed") as exc,
    ):
        read_pooler(b.dsn(user, password, dbname="pgbouncer"))
    assert password not in str(exc.value)
    assert exc.value.__cause__ is None  # psycopg's error keeps the connection parameters


# --- columns differ between PgBouncer versions ----------------------------------------------


def _rows_124() -> dict[str, list[dict[str, object]]]:
    """A PgBouncer 1.24-shaped reading: renamed and new columns, values as the console sends."""
    return {
        SHOW_CONFIG: [
            {"key": "max_client_conn", "value": "500", "default": "100", "changeable": "yes"},
            {"key": "default_pool_size", "value": "20", "default": "20", "changeable": "yes"},
            {"key": "pool_mode", "value": "transaction", "default": "session", "changeable": "yes"},
            {
                "key": "max_prepared_statements",
                "value": "200",
                "default": "200",
                "changeable": "yes",
            },
            {
                "key": "track_extra_parameters",
                "value": "IntervalStyle, search_path",
                "default": "IntervalStyle",
                "changeable": "yes",
            },
            {"key": "query_wait_timeout", "value": "90.5", "default": "120", "changeable": "yes"},
        ],
        SHOW_DATABASES: [
            {
                "name": "appdb",
                "host": "db1",
                "port": 5432,
                "database": "app_real",
                "force_user": "svc",
                "pool_size": 15,
                "min_pool_size": 0,
                "reserve_pool_size": 3,
                "server_lifetime": 3600,
                "pool_mode": None,
                "load_balance_hosts": None,
                "max_connections": 40,
                "current_connections": 12,
                "max_client_connections": 0,
                "current_client_connections": 80,
                "paused": 0,
                "disabled": 0,
            },
        ],
        SHOW_USERS: [
            {
                "name": "svc",
                "pool_size": 8,
                "reserve_pool_size": None,
                "pool_mode": "session",
                "max_user_connections": 30,
                "current_connections": 12,
                "max_user_client_connections": 0,
                "current_client_connections": 80,
            },
        ],
        SHOW_LISTS: [{"list": "used_clients", "items": 81}, {"list": "pools", "items": 2}],
        SHOW_POOLS: [
            {
                "database": "appdb",
                "user": "svc",
                "cl_active": 70,
                "cl_waiting": 10,
                "cl_active_cancel_req": 0,
                "cl_waiting_cancel_req": 0,
                "sv_active": 8,
                "sv_active_cancel": 0,
                "sv_being_canceled": 0,
                "sv_idle": 0,
                "sv_used": 0,
                "sv_tested": 0,
                "sv_login": 0,
                "maxwait": 3,
                "maxwait_us": 250000,
                "pool_mode": "session",
                "load_balance_hosts": None,
            },
            # An older shape without several columns.
            {"database": "pgbouncer", "user": "pgbouncer", "cl_active": 1, "cl_waiting": 0},
        ],
    }


def test_columns_are_mapped_by_name_whatever_the_version():
    snap = build_pooler_snapshot("1.24.1", _rows_124())

    assert snap.config.max_client_conn == 500
    assert snap.config.max_prepared_statements == 200
    assert snap.config.track_extra_parameters == ("intervalstyle", "search_path")
    assert snap.config.query_wait_timeout_s == 90.5
    assert snap.config.max_user_connections == 0  # not shown: the documented default
    (db,) = snap.databases
    assert (db.server_database, db.force_user, db.reserve_pool) == ("app_real", "svc", 3)
    (pool,) = snap.app_pools
    assert pool.maxwait_s == 3.25
    # The user's overrides (1.23+) win over the database's.
    assert snap.pool_size(pool) == 8
    assert snap.reserve_pool(pool) == 3
    assert snap.pool_mode(pool) == "session"
    assert snap.server_role(pool) == "svc"
    assert snap.server_database(pool) == "app_real"
    assert snap.user_limit("svc") == 30
    assert snap.user_servers("svc") == 12
    admin = next(p for p in snap.pools if p.admin)
    assert (admin.sv_login, admin.maxwait_s, admin.pool_mode) == (0, 0.0, None)
    assert snap.clients == ()
    assert snap.client_connections == 80


def test_commands_are_the_documented_show_commands():
    assert all(c.startswith("SHOW ") for c in COMMANDS)
    assert len(set(COMMANDS)) == len(COMMANDS) == 7
