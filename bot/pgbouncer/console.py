"""PgBouncer's admin console: connect, run the SHOW commands, map rows to typed objects.

The console is not PostgreSQL. It speaks the simple query protocol only, one command per query
(a `;`-separated batch is refused), has no transactions (`BEGIN` is refused) and refuses the
`options` startup parameter. So the connection is in autocommit, `prepare_threshold=None` keeps
psycopg from preparing a command it has run five times (the console refuses the extended
protocol), commands take no parameters, and read-only is the console user's business: pgconn
needs a `stats_users` entry, which may only SHOW.

The commands are console commands, not SQL for PostgreSQL, so they are constants here rather
than files in `bot/sql/` (which are versioned PostgreSQL queries). Columns are mapped by name,
so columns a PgBouncer version adds are ignored and ones it lacks come back as None.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bot.conninfo import pgconn_conninfo
from bot.diagnostics.connection import APPLICATION_NAME
from bot.diagnostics.deadline import bounded
from bot.errors import ConfigError, PoolerError
from bot.pgbouncer.model import (
    ADMIN_DATABASE,
    Pool,
    PoolerConfig,
    PoolerConnection,
    PoolerDatabase,
    PoolerLists,
    PoolerSnapshot,
    PoolerUser,
)
from bot.redact import redact_for_dsn

SHOW_CONFIG = "SHOW CONFIG"
SHOW_DATABASES = "SHOW DATABASES"
SHOW_USERS = "SHOW USERS"
SHOW_LISTS = "SHOW LISTS"
SHOW_POOLS = "SHOW POOLS"
SHOW_SERVERS = "SHOW SERVERS"
SHOW_CLIENTS = "SHOW CLIENTS"
# Settings first (they rarely change), then the moving counters back to back: the console has
# no snapshot isolation, so the closer together they are read, the better they agree.
COMMANDS = (
    SHOW_CONFIG,
    SHOW_DATABASES,
    SHOW_USERS,
    SHOW_LISTS,
    SHOW_POOLS,
    SHOW_SERVERS,
    SHOW_CLIENTS,
)

Connection = psycopg.Connection[tuple[Any, ...]]


def console_conninfo(dsn: str, *, connect_timeout: int = 5) -> str:
    """The console DSN with pgconn's name and a short connect timeout; dbname defaults to
    `pgbouncer` (the only database the console answers on)."""
    try:
        dbname = conninfo_to_dict(dsn).get("dbname")
        return pgconn_conninfo(
            dsn,
            application_name=APPLICATION_NAME,
            connect_timeout=connect_timeout,
            dbname=str(dbname or ADMIN_DATABASE),
        )
    except psycopg.ProgrammingError as exc:
        raise ConfigError(["pgbouncer_dsn: not a valid libpq connection string or URI"]) from exc


def connect_console(
    dsn: str, *, secrets: Iterable[str] = (), connect_timeout: int = 5
) -> Connection:
    """Open a console connection. A refusal becomes PoolerError, passwords masked."""
    try:
        return psycopg.connect(
            console_conninfo(dsn, connect_timeout=connect_timeout),
            autocommit=True,
            prepare_threshold=None,
        )
    except psycopg.OperationalError as exc:
        raise PoolerError(_hide(str(exc).strip(), dsn, secrets)) from None


def _hide(text: str, dsn: str, secrets: Iterable[str]) -> str:
    return redact_for_dsn(text, dsn, secrets)


class _Row:
    """One console row by column name; absent columns and NULLs read as the default."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, object]) -> None:
        self._values = values

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        return None if value is None else str(value)

    def string(self, name: str, default: str = "") -> str:
        value = self.text(name)
        return default if value is None else value

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self._values.get(name)
        if value is None or value == "":
            return default
        try:
            return int(str(value))
        except ValueError:
            return default

    def count(self, name: str) -> int:
        return self.integer(name, 0) or 0

    def first_int(self, *names: str) -> int | None:
        """The first of several names a column has had across versions."""
        for name in names:
            value = self.integer(name)
            if value is not None:
                return value
        return None

    def seconds(self, name: str, micros: str) -> float:
        return self.count(name) + self.count(micros) / 1_000_000


def _rows(conn: Connection, command: str) -> list[dict[str, object]]:
    try:
        cur = conn.execute(command.encode())
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    except psycopg.Error as exc:
        raise PoolerError(f"PgBouncer's console refused {command}: {exc}".strip()) from exc


def take_pooler_snapshot(conn: Connection) -> PoolerSnapshot:
    """Read every command on an open console connection (one round trip each)."""
    results = {command: _rows(conn, command) for command in COMMANDS}
    version = conn.info.parameter_status("server_version") or "unknown"
    return build_pooler_snapshot(version.removesuffix("/bouncer"), results)


def build_pooler_snapshot(
    version: str, raw: Mapping[str, Sequence[Mapping[str, object]]]
) -> PoolerSnapshot:
    """Typed objects from each command's rows (column name -> value), whatever the version."""
    results = {command: [_Row(row) for row in raw.get(command, ())] for command in COMMANDS}
    return PoolerSnapshot(
        version=version,
        taken_at=datetime.now(UTC),
        config=_config(results[SHOW_CONFIG]),
        pools=tuple(_pool(r) for r in results[SHOW_POOLS]),
        clients=tuple(
            c
            for c in (_connection("client", r) for r in results[SHOW_CLIENTS])
            if c.database != ADMIN_DATABASE
        ),
        servers=tuple(_connection("server", r) for r in results[SHOW_SERVERS]),
        databases=tuple(_database(r) for r in results[SHOW_DATABASES]),
        users=tuple(_user(r) for r in results[SHOW_USERS]),
        lists=_lists(results[SHOW_LISTS]),
    )


def _pool(r: _Row) -> Pool:
    return Pool(
        database=r.string("database"),
        user=r.string("user"),
        cl_active=r.count("cl_active"),
        cl_waiting=r.count("cl_waiting"),
        sv_active=r.count("sv_active"),
        sv_idle=r.count("sv_idle"),
        sv_used=r.count("sv_used"),
        sv_tested=r.count("sv_tested"),
        sv_login=r.count("sv_login"),
        maxwait_s=r.seconds("maxwait", "maxwait_us"),
        pool_mode=r.text("pool_mode"),
    )


def _connection(kind: str, r: _Row) -> PoolerConnection:
    pid = r.integer("remote_pid")
    return PoolerConnection(
        kind=kind,
        user=r.string("user"),
        database=r.string("database"),
        state=r.string("state"),
        addr=r.text("addr"),
        port=r.integer("port"),
        application_name=r.string("application_name"),
        wait_s=r.seconds("wait", "wait_us"),
        remote_pid=pid if pid else None,
        linked=bool(r.text("link")),
        prepared_statements=r.integer("prepared_statements"),
    )


def _database(r: _Row) -> PoolerDatabase:
    name = r.string("name")
    return PoolerDatabase(
        name=name,
        host=r.text("host"),
        port=r.integer("port"),
        server_database=r.string("database", name),
        force_user=r.text("force_user"),
        pool_size=r.integer("pool_size"),
        # Renamed in PgBouncer 1.24.
        reserve_pool=r.first_int("reserve_pool_size", "reserve_pool"),
        pool_mode=r.text("pool_mode"),
        max_connections=r.count("max_connections"),
        current_connections=r.count("current_connections"),
        paused=bool(r.count("paused")),
        disabled=bool(r.count("disabled")),
    )


def _user(r: _Row) -> PoolerUser:
    return PoolerUser(
        name=r.string("name"),
        pool_mode=r.text("pool_mode"),
        pool_size=r.integer("pool_size"),
        reserve_pool_size=r.integer("reserve_pool_size"),
        max_user_connections=r.integer("max_user_connections"),
        current_connections=r.integer("current_connections"),
    )


def _lists(rows: Sequence[_Row]) -> PoolerLists:
    # One row per counter (`list`, `items`), not one column per counter as the manual says.
    items = {r.string("list"): r.count("items") for r in rows}
    return PoolerLists(
        used_clients=items.get("used_clients", 0),
        login_clients=items.get("login_clients", 0),
        used_servers=items.get("used_servers", 0),
        pools=items.get("pools", 0),
    )


def _config(rows: Sequence[_Row]) -> PoolerConfig:
    values = {r.string("key"): r.string("value") for r in rows}

    def number(key: str, default: int = 0) -> int:
        try:
            return int(float(values[key]))
        except (KeyError, ValueError):
            return default

    def seconds(key: str) -> float:
        try:
            return float(values[key])
        except (KeyError, ValueError):
            return 0.0

    prepared = values.get("max_prepared_statements")
    extra = values.get("track_extra_parameters", "")
    return PoolerConfig(
        max_client_conn=number("max_client_conn"),
        default_pool_size=number("default_pool_size", 20),
        min_pool_size=number("min_pool_size"),
        reserve_pool_size=number("reserve_pool_size"),
        reserve_pool_timeout_s=seconds("reserve_pool_timeout"),
        pool_mode=values.get("pool_mode") or "session",
        max_db_connections=number("max_db_connections"),
        max_user_connections=number("max_user_connections"),
        query_wait_timeout_s=seconds("query_wait_timeout"),
        server_login_retry_s=seconds("server_login_retry"),
        client_idle_timeout_s=seconds("client_idle_timeout"),
        server_idle_timeout_s=seconds("server_idle_timeout"),
        idle_transaction_timeout_s=seconds("idle_transaction_timeout"),
        server_reset_query=values.get("server_reset_query", ""),
        server_reset_query_always=values.get("server_reset_query_always") == "1",
        max_prepared_statements=number("max_prepared_statements") if prepared else None,
        track_extra_parameters=tuple(p.strip().lower() for p in extra.split(",") if p.strip()),
    )


def read_pooler(dsn: str, *, secrets: Iterable[str] = ()) -> PoolerSnapshot:
    """Connect, read, disconnect. Raises PoolerError (message safe to show)."""
    with connect_console(dsn, secrets=secrets) as conn:
        try:
            with bounded(conn, what="PgBouncer"):
                return take_pooler_snapshot(conn)
        except PoolerError as exc:
            raise PoolerError(_hide(str(exc), dsn, secrets)) from None
