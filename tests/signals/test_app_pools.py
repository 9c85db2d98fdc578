"""Application-side pool timeouts: the library and its numbers, and the server refusal behind
them when the text carries it."""

from __future__ import annotations

import json

import pytest

from bot.signals import SignalKind, scan

K = SignalKind

CASES = [
    (
        "sqlalchemy",
        "sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached, connection "
        "timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)",
        "sqlalchemy",
        "sqlalchemy pool_size=5 overflow=10 timeout=30.00",
    ),
    (
        "hikaricp 5.1+",
        "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
        "request timed out after 30004ms (total=10, active=10, idle=0, waiting=42)",
        "hikaricp",
        "hikaricp total=10 active=10 idle=0 waiting=42",
    ),
    (
        "hikaricp <= 5.0",
        "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
        "request timed out after 30000ms.",
        "hikaricp",
        "hikaricp waited=30000ms",
    ),
    (
        "rails",
        "ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool "
        "within 5.000 seconds (waited 5.002 seconds); all pooled connections were in use",
        "rails",
        "rails checkout_timeout=5.000 waited=5.002",
    ),
    (
        "prisma P2024",
        "PrismaClientKnownRequestError: \nInvalid `prisma.post.findMany()` invocation:\n\n\n"
        "Timed out fetching a new connection from the connection pool. More info: "
        "http://pris.ly/d/connection-pool (Current connection pool timeout: 10, connection "
        "limit: 5)\n    at Cn.handleRequestError (/app/node_modules/@prisma/client/runtime/"
        "library.js:121:7749) {\n  code: 'P2024',\n  clientVersion: '5.9.1',\n  meta: { "
        "modelName: 'Post', connection_limit: 5, timeout: 10 }\n}",
        "prisma",
        "prisma connection_limit=5 timeout=10",
    ),
    (
        "psycopg_pool",
        "psycopg_pool.PoolTimeout: couldn't get a connection after 30.00 sec",
        "psycopg_pool",
        "psycopg_pool timeout=30.00",
    ),
    (
        "pg-pool",
        "Error: timeout exceeded when trying to connect\n    at Timeout._onTimeout "
        "(/app/node_modules/pg-pool/index.js:188:27)\n    at listOnTimeout "
        "(node:internal/timers:573:17)",
        "pg-pool",
        "pg-pool",
    ),
    # typeorm/typeorm src/driver/postgres/PostgresDriver.ts pools with node-postgres' Pool, so
    # its acquire timeout is pg-pool's, under TypeORM's frames.
    (
        "typeorm",
        "Error: timeout exceeded when trying to connect\n    at Timeout._onTimeout "
        "(/app/node_modules/pg-pool/index.js:188:27)\n    at PostgresDriver."
        "obtainMasterConnection (/app/node_modules/typeorm/driver/postgres/PostgresDriver.js:"
        "1189:28)",
        "pg-pool",
        "pg-pool",
    ),
    # knex/knex lib/client.js acquireConnection: KnexTimeoutError.
    (
        "knex",
        "KnexTimeoutError: Knex: Timeout acquiring a connection. The pool is probably full. Are "
        "you missing a .transacting(trx) call?\n    at Client_PG.acquireConnection "
        "(/app/node_modules/knex/lib/client.js:312:26)",
        "knex",
        "knex",
    ),
    # sequelize/sequelize packages/core/src/errors/connection/connection-acquire-timeout-error.ts
    # (its message is the pool's TimeoutError's).
    (
        "sequelize",
        "SequelizeConnectionAcquireTimeoutError: Operation timeout\n    at ConnectionManager."
        "getConnection (/app/node_modules/sequelize/lib/dialects/abstract/connection-manager."
        "js:211:15)",
        "sequelize",
        "sequelize",
    ),
    # npgsql/npgsql src/Npgsql/PoolingDataSource.cs (7+) and ConnectorPool.cs (5).
    (
        "npgsql",
        "Npgsql.NpgsqlException (0x80004005): The connection pool has been exhausted, either "
        "raise 'Max Pool Size' (currently 100) or 'Timeout' (currently 15 seconds) in your "
        "connection string.\n ---> System.TimeoutException: The operation has timed out.",
        "npgsql",
        "npgsql max_pool_size=100 timeout=15",
    ),
    (
        "npgsql 5",
        "Npgsql.NpgsqlException (0x80004005): The connection pool has been exhausted, either "
        "raise MaxPoolSize (currently 20) or Timeout (currently 15 seconds)",
        "npgsql",
        "npgsql max_pool_size=20 timeout=15",
    ),
    # launchbadge/sqlx sqlx-core/src/error.rs Error::PoolTimedOut, as anyhow prints it.
    (
        "sqlx",
        "Error: error returned from database: pool timed out while waiting for an open connection",
        "sqlx",
        "sqlx",
    ),
    # elixir-ecto/db_connection lib/db_connection/connection_pool.ex drop/2 (recent versions
    # name the pool first).
    (
        "ecto queue",
        "** (DBConnection.ConnectionError) [Elixir.Shop.Repo] connection not available and "
        "request was dropped from queue after 2977ms. This means requests are coming in and "
        "your connection pool cannot serve them fast enough. You can address this by:",
        "dbconnection",
        "dbconnection queue dropped after 2977ms",
    ),
    # hibernate/hibernate-orm DriverManagerConnectionProviderImpl's PooledConnections.poll.
    (
        "hibernate",
        "org.hibernate.HibernateException: The internal connection pool has reached its maximum "
        "size and no connection is currently available!",
        "hibernate",
        "hibernate built-in pool at its maximum size",
    ),
    # MagicStack/asyncpg asyncpg/pool.py Pool._acquire: compat.wait_for raises a bare
    # TimeoutError; the traceback's frame names the pool.
    (
        "asyncpg",
        "Traceback (most recent call last):\n"
        '  File "/app/handler.py", line 12, in handle\n'
        "    async with pool.acquire(timeout=5) as conn:\n"
        '  File "/usr/lib/python3.11/site-packages/asyncpg/pool.py", line 1024, in __aenter__\n'
        "    self.connection = await self.pool._acquire(self.timeout)\n"
        '  File "/usr/lib/python3.11/site-packages/asyncpg/pool.py", line 864, in _acquire\n'
        "    return await compat.wait_for(\n"
        '  File "/usr/lib/python3.11/asyncio/tasks.py", line 479, in wait_for\n'
        "    raise exceptions.TimeoutError() from exc\n"
        "TimeoutError",
        "asyncpg",
        "asyncpg pool acquire",
    ),
]


@pytest.mark.parametrize(
    ("text", "source", "detail"), [pytest.param(t, s, d, id=i) for i, t, s, d in CASES]
)
def test_app_pool_timeout(text: str, source: str, detail: str) -> None:
    (s,) = scan(text)
    assert (s.kind, s.source, s.detail, s.sqlstate, s.role, s.database) == (
        K.APP_POOL_TIMEOUT,
        source,
        detail,
        None,
        None,
        None,
    )


HIKARI = (
    "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, "
    "request timed out after 30004ms (total=0, active=0, idle=0, waiting=3)"
)


def test_hikari_with_the_refusal_in_caused_by_yields_both() -> None:
    text = "\n".join(
        (
            HIKARI,
            "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
            "\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
            "Caused by: org.postgresql.util.PSQLException: FATAL: too many connections for "
            'role "app"',
            "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse("
            "QueryExecutorImpl.java:2713)",
        )
    )
    got = [(s.kind, s.role, s.source, s.first_line) for s in scan(text)]
    assert got == [
        (K.APP_POOL_TIMEOUT, None, "hikaricp", 1),
        (K.ROLE_LIMIT, "app", "pgjdbc", 4),
    ]


def test_hikari_with_sqlstate_53300_yields_both() -> None:
    text = "\n".join(
        (
            "2024-05-01 12:00:00.123  WARN 1 --- [nio-8080-exec-1] o.h.engine.jdbc.spi."
            "SqlExceptionHelper   : SQL Error: 0, SQLState: 53300",
            "2024-05-01 12:00:00.123 ERROR 1 --- [nio-8080-exec-1] o.h.engine.jdbc.spi."
            "SqlExceptionHelper   : HikariPool-1 - Connection is not available, request timed "
            "out after 30000ms.",
        )
    )
    app, server = scan(text)
    assert (app.kind, app.sqlstate, app.detail) == (
        K.APP_POOL_TIMEOUT,
        "53300",
        "hikaricp waited=30000ms",
    )
    assert (server.kind, server.sqlstate, server.source, server.first_line) == (
        K.MAX_CONNECTIONS,
        "53300",
        "hikaricp",
        2,
    )


def test_hikari_with_sqlstate_and_the_refusal_quoted_does_not_guess() -> None:
    text = "\n".join(
        (
            "SqlExceptionHelper : SQL Error: 0, SQLState: 53300",
            "SqlExceptionHelper : HikariPool-1 - Connection is not available, request timed out "
            "after 30000ms.",
            "Caused by: org.postgresql.util.PSQLException: FATAL: sorry, too many clients already",
        )
    )
    assert [s.kind for s in scan(text)] == [K.APP_POOL_TIMEOUT, K.MAX_CONNECTIONS]
    assert scan(text)[1].detail is None


def test_app_pool_timeouts_count_by_library() -> None:
    line = "QueuePool limit of size {} overflow 10 reached, connection timed out, timeout 30.00"
    text = "\n".join(line.format(n) for n in (5, 5, 20))
    (s,) = scan(text)
    assert (s.count, s.detail) == (3, "sqlalchemy pool_size=5 overflow=10 timeout=30.00")


def test_hikari_json_record_with_state_and_stack_in_one_line_does_not_guess() -> None:
    record = {
        "@timestamp": "2024-05-01T12:00:00.123Z",
        "level": "ERROR",
        "message": "HikariPool-1 - Connection is not available, request timed out after 30000ms "
        "(total=0, active=0, idle=0, waiting=9)",
        "sqlState": "53300",
        "stack_trace": "java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is "
        "not available, request timed out after 30000ms (total=0, active=0, idle=0, waiting=9)\n"
        "\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)\n"
        "Caused by: org.postgresql.util.PSQLException: FATAL: sorry, too many clients already\n",
    }
    got = [(s.kind, s.sqlstate, s.source, s.detail) for s in scan(json.dumps(record))]
    assert got == [
        (K.APP_POOL_TIMEOUT, "53300", "hikaricp", "hikaricp total=0 active=0 idle=0 waiting=9"),
        (K.MAX_CONNECTIONS, "53300", "pgjdbc", None),
    ]


def test_asyncpg_acquire_frame_without_a_timeout_is_not_a_pool_timeout() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/usr/lib/python3.11/site-packages/asyncpg/pool.py", line 864, in _acquire\n'
        "    return await compat.wait_for(\n"
        "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already"
    )
    assert [(s.kind, s.source) for s in scan(text)] == [(K.MAX_CONNECTIONS, "asyncpg")]


def test_doctrine_names_the_outer_wrapper() -> None:
    # doctrine/dbal src/Exception/DriverException.php around PDO's message.
    text = (
        "Doctrine\\DBAL\\Exception\\ConnectionException: An exception occurred in the driver: "
        "SQLSTATE[08006] [7] FATAL:  sorry, too many clients already"
    )
    (s,) = scan(text)
    assert (s.kind, s.source, s.sqlstate) == (K.MAX_CONNECTIONS, "doctrine", "53300")
