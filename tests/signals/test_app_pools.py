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
