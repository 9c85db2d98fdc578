"""PgBouncer's and Supavisor's own refusals, in their logs and as clients see them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.signals import SignalKind, scan

from . import shapes

K = SignalKind
MAX_CLIENT = "no more connections allowed (max_client_conn)"


def pooler(kind: SignalKind, detail: str, source: str, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "detail": detail, "sqlstate": "08P01", "source": source, **extra}


CASES = [
    (
        "log max_client_conn",
        shapes.pgbouncer_log(MAX_CLIENT),
        pooler(K.POOLER_CLIENT_LIMIT, "max_client_conn", "pgbouncer", database=None, role=None),
    ),
    (
        "log max_db_client_connections names the database",
        shapes.pgbouncer_log("client connections exceeded (max_db_client_connections)", db="shop"),
        pooler(K.POOLER_CLIENT_LIMIT, "max_db_client_connections", "pgbouncer", database="shop"),
    ),
    (
        "log max_user_client_connections names the user",
        shapes.pgbouncer_log(
            "client connections exceeded (max_user_client_connections)", user="etl"
        ),
        pooler(K.POOLER_CLIENT_LIMIT, "max_user_client_connections", "pgbouncer", role="etl"),
    ),
    (
        "log query_wait_timeout",
        shapes.pgbouncer_log("query_wait_timeout"),
        pooler(K.POOLER_WAIT_TIMEOUT, "query_wait_timeout", "pgbouncer"),
    ),
    (
        "log closing because, alone",
        shapes.pgbouncer_closing("query_wait_timeout"),
        pooler(K.POOLER_WAIT_TIMEOUT, "query_wait_timeout", "pgbouncer"),
    ),
    (
        "old log format, no time zone, no brackets",
        "2018-09-12 16:08:54.775 3392 WARNING C-0x1c4b5b0: appdb/app@10.0.0.7:51234 "
        "pooler error: " + MAX_CLIENT,
        pooler(K.POOLER_CLIENT_LIMIT, "max_client_conn", "pgbouncer"),
    ),
    (
        "client psycopg2",
        shapes.psycopg2(MAX_CLIENT),
        pooler(K.POOLER_CLIENT_LIMIT, "max_client_conn", "psycopg2"),
    ),
    (
        "client libpq client_login_timeout",
        shapes.libpq14("client_login_timeout (server down)"),
        pooler(K.POOLER_WAIT_TIMEOUT, "client_login_timeout", "libpq"),
    ),
    (
        "client pgjdbc query_wait_timeout",
        shapes.pgjdbc("query_wait_timeout"),
        pooler(K.POOLER_WAIT_TIMEOUT, "query_wait_timeout", "pgjdbc"),
    ),
    (
        "client pgx carries 08P01",
        shapes.pgx("query_wait_timeout", "08P01"),
        pooler(K.POOLER_WAIT_TIMEOUT, "query_wait_timeout", "pgx"),
    ),
    (
        "client node",
        shapes.node_printed(MAX_CLIENT, "08P01"),
        pooler(K.POOLER_CLIENT_LIMIT, "max_client_conn", "node-postgres"),
    ),
    (
        "<= 1.16 fast fail",
        shapes.libpq13("pgbouncer cannot connect to server"),
        pooler(K.POOLER_WAIT_TIMEOUT, "server_login_retry", "libpq"),
    ),
    (
        "1.17 - 1.23 fast fail",
        shapes.libpq14("server login has been failing, try again later (server_login_retry)"),
        pooler(K.POOLER_WAIT_TIMEOUT, "server_login_retry", "libpq"),
    ),
    (
        "server's refusal passed on",
        shapes.libpq14("sorry, too many clients already"),
        {"kind": K.MAX_CONNECTIONS, "sqlstate": "53300"},
    ),
    (
        "log of a failed server login",
        "2024-05-01 12:00:00.123 UTC [1234] WARNING server login failed: FATAL sorry, too many "
        "clients already",
        {"kind": K.MAX_CONNECTIONS, "sqlstate": "53300", "source": "pgbouncer"},
    ),
    (
        "supavisor",
        "FATAL:  (EMAXCONN) max client connections reached, limit: 200",
        {
            "kind": K.POOLER_CLIENT_LIMIT,
            "detail": "supavisor EMAXCONN limit=200",
            "sqlstate": "XX000",
            "source": "supavisor",
        },
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CASES])
def test_pooler(text: str, expected: dict[str, Any]) -> None:
    (s,) = scan(text)
    assert {k: getattr(s, k) for k in expected} == expected


CACHED = "server login has been failing, cached error: {} (server_login_retry)"


@pytest.mark.parametrize(
    ("wrapped", "kind", "role", "detail"),
    [
        ("sorry, too many clients already", K.MAX_CONNECTIONS, None, None),
        ('too many connections for role "app"', K.ROLE_LIMIT, "app", None),
        ('too many connections for role "a"b"', K.ROLE_LIMIT, 'a"b', None),
        ("the database system is shutting down", K.SERVER_NOT_READY, None, "shutting down"),
        ('слишком много подключений для роли "app"', K.ROLE_LIMIT, "app", None),
        ("the error was sorry, too many clients already", None, None, None),
    ],
)
def test_cached_error_emits_both(
    wrapped: str, kind: SignalKind | None, role: str | None, detail: str | None
) -> None:
    for text, source in (
        (shapes.pgbouncer_log(CACHED.format(wrapped)), "pgbouncer"),
        (shapes.libpq14(CACHED.format(wrapped)), "libpq"),
        (shapes.pgx(CACHED.format(wrapped), "08P01"), "pgx"),
    ):
        got = scan(text)
        outer = got[0]
        assert (outer.kind, outer.detail, outer.sqlstate, outer.source) == (
            K.POOLER_WAIT_TIMEOUT,
            "server_login_retry",
            "08P01",
            source,
        )
        if kind is None:  # the wrapped text is not a bare message
            assert len(got) == 1
            continue
        inner = got[1]
        assert (inner.kind, inner.role, inner.detail, inner.sqlstate, inner.source) == (
            kind,
            role,
            detail,
            "53300" if kind is not K.SERVER_NOT_READY else "57P03",
            source,
        )


def test_cached_error_cut_by_pgbouncers_buffer() -> None:
    # PgBouncer formats the reason into 128 bytes: the server message is cut short.
    reason = CACHED.format(
        "remaining connection slots are reserved for non-replication superuser connections"
    )[:127]
    got = scan(shapes.libpq14(reason))
    assert [(s.kind, s.detail) for s in got] == [
        (K.POOLER_WAIT_TIMEOUT, "server_login_retry"),
        (K.RESERVED_SLOTS, "superuser"),
    ]
    long_role = "r" * 60
    reason = CACHED.format(f'too many connections for role "{long_role}"')[:127]
    got = scan(shapes.pgbouncer_log(reason))
    assert [(s.kind, s.role) for s in got] == [
        (K.POOLER_WAIT_TIMEOUT, None),
        (K.ROLE_LIMIT, None),  # the name is cut: not reported as a name
    ]


def test_pooler_error_then_closing_counts_one_event() -> None:
    text = "\n".join(
        (
            shapes.pgbouncer_log("query_wait_timeout"),
            shapes.pgbouncer_closing("query_wait_timeout"),
            shapes.pgbouncer_log("query_wait_timeout").replace("0x55d5c8f0a2b0", "0x55d5c8f0b000"),
            shapes.pgbouncer_closing("query_wait_timeout").replace(
                "0x55d5c8f0a2b0", "0x55d5c8f0b000"
            ),
        )
    )
    (s,) = scan(text)
    assert (s.count, s.first_line) == (2, 1)
