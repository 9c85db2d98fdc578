"""deploy/sql/: the role scripts, run with psql against real servers, and the roles they make
doing what pgconn needs of them (and nothing more)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from bot import throwaway
from bot.diagnostics.keeper import budget
from tests import pg

SQL_DIR = Path(__file__).resolve().parents[2] / "deploy" / "sql"
MONITOR_PW = "monitor-pw-123"
ADMIN_PW = "admin-pw-456"

pytestmark = pytest.mark.pg


def psql(cluster: throwaway.ThrowawayCluster, script: str, **variables: str) -> str:
    """Runs a script the way the README says: psql, ON_ERROR_STOP, as the superuser."""
    argv = [
        cluster.binaries.tool("psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        cluster.dsn(),
        "-f",
        str(SQL_DIR / script),
    ]
    for name, value in variables.items():
        argv += ["-v", f"{name}={value}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stderr


def connect(
    cluster: throwaway.ThrowawayCluster, user: str, password: str, **params: str
) -> psycopg.Connection[Any]:
    return psycopg.connect(cluster.dsn(user=user, password=password, **params), autocommit=True)


@pytest.fixture(scope="module")
def installed(
    cluster: throwaway.ThrowawayCluster,
) -> tuple[throwaway.ThrowawayCluster, str, str]:
    """Both scripts, run twice (they must be re-runnable), with one app role named."""
    app = pg.unique("app")
    app_pw = pg.create_role(cluster, app, limit=5)
    for _ in range(2):
        psql(cluster, "monitoring-role.sql", password=MONITOR_PW)
        psql(cluster, "remediation-role.sql", password=ADMIN_PW, app_roles=f"{app}, ")
    return cluster, app, app_pw


def test_monitoring_role_attributes(installed: tuple[Any, str, str]) -> None:
    cluster, _, _ = installed
    with pg.admin(cluster) as conn:
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication,"
            " rolbypassrls, rolconnlimit, rolconfig,"
            " pg_has_role(oid, 'pg_monitor', 'USAGE')"
            " FROM pg_roles WHERE rolname = 'pgconn_monitor'"
        ).fetchone()
    assert row is not None
    login, superuser, createrole, createdb, replication, bypassrls, limit, config, monitor = row
    assert login
    assert monitor
    assert not superuser
    assert not createrole
    assert not createdb
    assert not replication
    assert not bypassrls
    assert limit == budget(3)  # the connection budget of the Helm chart's 3 replicas
    assert {"default_transaction_read_only=on", "statement_timeout=5s"} <= set(config)


def test_monitoring_role_sees_other_roles_sessions(installed: tuple[Any, str, str]) -> None:
    cluster, app, app_pw = installed
    with (
        connect(cluster, app, app_pw, application_name="checkout") as busy,
        connect(cluster, "pgconn_monitor", MONITOR_PW) as mon,
    ):
        busy.execute("SELECT 'the app query'")
        row = mon.execute(
            "SELECT usename, application_name, state, query, client_addr IS NOT NULL"
            " FROM pg_stat_activity WHERE pid = %s",
            [busy.info.backend_pid],
        ).fetchone()
        assert row == (app, "checkout", "idle", "SELECT 'the app query'", True)
        # Settings pgconn reads to size the limits are visible too.
        assert mon.execute("SHOW superuser_reserved_connections").fetchone() is not None
        assert mon.execute("SHOW transaction_read_only").fetchone() == ("on",)


def test_monitoring_role_cannot_write(installed: tuple[Any, str, str]) -> None:
    cluster, app, app_pw = installed
    table = pg.unique("orders")
    with pg.admin(cluster) as conn:
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(table)))
        conn.execute(sql.SQL("GRANT SELECT ON {} TO PUBLIC").format(sql.Identifier(table)))
    insert = sql.SQL("INSERT INTO {} VALUES (1)").format(sql.Identifier(table))
    with (
        connect(cluster, "pgconn_monitor", MONITOR_PW) as mon,
        connect(cluster, app, app_pw) as busy,
    ):
        # First line: every transaction is read-only by default.
        with pytest.raises(errors.ReadOnlySqlTransaction):
            mon.execute(insert)
        with pytest.raises(errors.ReadOnlySqlTransaction):
            mon.execute("CREATE TABLE pgconn_was_here (id int)")
        # Second line, when a session turns the default off: no privilege to write anything.
        mon.execute("SET default_transaction_read_only = off")
        with pytest.raises(errors.InsufficientPrivilege):
            mon.execute(insert)
        with pytest.raises(errors.InsufficientPrivilege):
            mon.execute("CREATE TABLE pgconn_was_here (id int)")
        with pytest.raises(errors.InsufficientPrivilege):
            mon.execute("ALTER ROLE pgconn_monitor CONNECTION LIMIT 100")
        with pytest.raises(errors.InsufficientPrivilege):
            mon.execute("SELECT pg_terminate_backend(%s)", [busy.info.backend_pid])


def test_remediation_role_terminates_an_app_session(installed: tuple[Any, str, str]) -> None:
    cluster, app, app_pw = installed
    with connect(cluster, app, app_pw) as idle, connect(cluster, "pgconn_admin", ADMIN_PW) as adm:
        # The playbook's statement: it selects by state, so the role must see other roles' state.
        ended = adm.execute(
            "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE usename = %s AND state = 'idle' AND pid <> pg_backend_pid()",
            [app],
        ).fetchall()
        assert ended == [(idle.info.backend_pid, True)]
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")


def test_remediation_role_cannot_end_a_superuser_session(installed: tuple[Any, str, str]) -> None:
    cluster, _, _ = installed
    with pg.admin(cluster) as su, connect(cluster, "pgconn_admin", ADMIN_PW) as adm:
        with pytest.raises(errors.InsufficientPrivilege):
            adm.execute("SELECT pg_terminate_backend(%s)", [su.info.backend_pid])
        assert su.execute("SELECT 1").fetchone() == (1,)


def test_remediation_role_alters_the_app_role(installed: tuple[Any, str, str]) -> None:
    cluster, app, _ = installed
    ident = sql.Identifier(app)
    with connect(cluster, "pgconn_admin", ADMIN_PW) as adm:
        adm.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT 7").format(ident))
        adm.execute(
            sql.SQL("ALTER ROLE {} SET idle_in_transaction_session_timeout = '5min'").format(ident)
        )
        row = adm.execute(
            "SELECT rolconnlimit, rolconfig FROM pg_roles WHERE rolname = %s", [app]
        ).fetchone()
        assert row == (7, ["idle_in_transaction_session_timeout=5min"])
        # Administering the app role does not make pgconn_admin the app role.
        with pytest.raises(errors.InsufficientPrivilege):
            adm.execute(sql.SQL("SET ROLE {}").format(ident))
        # ... and it never reaches superusers.
        with pytest.raises(errors.InsufficientPrivilege):
            adm.execute("ALTER ROLE postgres CONNECTION LIMIT 1")


def test_pg16_admin_option_is_what_lets_it_alter_a_role(installed: tuple[Any, str, str]) -> None:
    """On 16+, a role not named in app_roles is out of reach; on 15, CREATEROLE reaches it."""
    cluster, _, _ = installed
    other = pg.unique("other")
    pg.create_role(cluster, other)
    statement = sql.SQL("ALTER ROLE {} CONNECTION LIMIT 4").format(sql.Identifier(other))
    with connect(cluster, "pgconn_admin", ADMIN_PW) as adm:
        if cluster.major >= 16:
            with pytest.raises(errors.InsufficientPrivilege):
                adm.execute(statement)
        else:
            adm.execute(statement)


def test_misspelt_app_role_fails_the_script(installed: tuple[Any, str, str]) -> None:
    cluster, _, _ = installed
    argv = [
        cluster.binaries.tool("psql"),
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        cluster.dsn(),
        "-v",
        "app_roles=no_such_role_x",
        "-f",
        str(SQL_DIR / "remediation-role.sql"),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if cluster.major >= 16:
        assert done.returncode != 0
        assert 'role "no_such_role_x" does not exist' in done.stderr
    else:
        assert done.returncode == 0, done.stderr


def test_reserved_connections_let_the_bot_in_when_the_server_is_full() -> None:
    """PostgreSQL 16+: the scripts' pg_use_reserved_connections grants, on a server that
    reserves slots as the notes say, get both roles in after the ordinary slots are gone."""
    settings = {
        "max_connections": "8",
        "superuser_reserved_connections": "2",
        "reserved_connections": "3",
    }
    server = pg.start(18, settings)
    try:
        app = pg.unique("app")
        app_pw = pg.create_role(server, app)
        psql(server, "monitoring-role.sql", password=MONITOR_PW)
        psql(server, "remediation-role.sql", password=ADMIN_PW, app_roles=app)
        with pg.holding(server) as h:
            h.open(8 - 2 - 3, app, app_pw)
            assert "pg_use_reserved_connections" in h.refused(app, app_pw)
            with (
                connect(server, "pgconn_monitor", MONITOR_PW) as mon,
                connect(server, "pgconn_admin", ADMIN_PW) as adm,
            ):
                count = mon.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = %s", [app]
                ).fetchone()
                assert count == (3,)
                assert adm.execute("SELECT 1").fetchone() == (1,)
    finally:
        server.destroy()
