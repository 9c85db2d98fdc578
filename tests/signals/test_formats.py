"""Each log format and each client wrapper: exact kind, entity, SQLSTATE and source."""

from __future__ import annotations

from typing import Any

import pytest

from bot.signals import SignalKind, scan

from . import shapes

K = SignalKind
ROLE_MSG = 'too many connections for role "app_user"'
DB_MSG = 'too many connections for database "appdb"'
MAX_MSG = "sorry, too many clients already"
RESERVED_15 = "remaining connection slots are reserved for non-replication superuser connections"
RESERVED_16 = "remaining connection slots are reserved for roles with the SUPERUSER attribute"
STARTING = "the database system is starting up"


def role(source: str, sqlstate: str = "53300", name: str = "app_user") -> dict[str, Any]:
    return {"kind": K.ROLE_LIMIT, "role": name, "sqlstate": sqlstate, "source": source}


def maxconn(source: str, sqlstate: str = "53300") -> dict[str, Any]:
    return {"kind": K.MAX_CONNECTIONS, "role": None, "sqlstate": sqlstate, "source": source}


CASES = [
    # --- server logs ---
    ("stderr %m [%p]", shapes.stderr(ROLE_MSG), role("stderr")),
    ("stderr debian", shapes.stderr_debian(ROLE_MSG), role("stderr")),
    ("stderr rds", shapes.stderr_rds(ROLE_MSG), role("stderr")),
    ("stderr verbose", shapes.stderr_verbose(ROLE_MSG), role("stderr")),
    (
        "stderr verbose carries its sqlstate",
        shapes.stderr_verbose(STARTING, "57P03", "BackendInitialize, backend_startup.c:309"),
        {"kind": K.SERVER_NOT_READY, "detail": "starting up", "sqlstate": "57P03"},
    ),
    ("stderr 9.6 empty prefix", shapes.stderr_96(MAX_MSG), maxconn("stderr")),
    (
        "docker compose prefix",
        "db-1  | " + shapes.stderr(MAX_MSG),
        maxconn("stderr"),
    ),
    ("csvlog 23", shapes.csvlog(ROLE_MSG, columns=23), role("csvlog")),
    ("csvlog 24", shapes.csvlog(ROLE_MSG, columns=24), role("csvlog")),
    ("csvlog 26", shapes.csvlog(ROLE_MSG, columns=26), role("csvlog")),
    (
        "csvlog sqlstate column wins",
        shapes.csvlog(STARTING, state="57P03"),
        {"kind": K.SERVER_NOT_READY, "sqlstate": "57P03", "source": "csvlog"},
    ),
    ("jsonlog", shapes.jsonlog(ROLE_MSG), role("jsonlog")),
    ("syslog", shapes.syslog(ROLE_MSG), role("syslog")),
    (
        "syslog rfc3339",
        "2024-05-01T12:00:00.123456+00:00 db1 postgres[1234]: [3-1] FATAL:  " + MAX_MSG,
        maxconn("syslog"),
    ),
    ("heroku", shapes.heroku(RESERVED_15), {"kind": K.RESERVED_SLOTS, "source": "heroku"}),
    (
        "heroku sql_error_code",
        shapes.heroku(ROLE_MSG.replace("app_user", "u2fbc1d"), state="53300"),
        role("heroku", name="u2fbc1d"),
    ),
    ("cloud logging", shapes.cloud_logging(ROLE_MSG), role("cloud_logging")),
    ("cloudnativepg", shapes.cloudnativepg(ROLE_MSG), role("cloudnativepg")),
    (
        "cloudnativepg sql_state_code",
        shapes.cloudnativepg(STARTING, state="57P03"),
        {"kind": K.SERVER_NOT_READY, "sqlstate": "57P03", "source": "cloudnativepg"},
    ),
    (
        "kubernetes CRI prefix before CloudNativePG JSON",
        "2024-05-01T12:00:00.123456789Z stderr F " + shapes.cloudnativepg(ROLE_MSG),
        role("cloudnativepg"),
    ),
    # --- clients ---
    ("libpq < 14", shapes.libpq13(MAX_MSG), maxconn("libpq")),
    ("libpq 14+", shapes.libpq14(MAX_MSG), maxconn("libpq")),
    (
        "libpq 14+ split",
        shapes.libpq14_split(RESERVED_15),
        {"kind": K.RESERVED_SLOTS, "source": "libpq"},
    ),
    ("psql", shapes.psql(ROLE_MSG), role("libpq")),
    ("psql 11", "psql: FATAL:  " + MAX_MSG, maxconn("libpq")),
    (
        "psycopg2 pre-14 libpq",
        "psycopg2.OperationalError: FATAL:  " + RESERVED_15,
        {"kind": K.RESERVED_SLOTS, "source": "psycopg2"},
    ),
    ("psycopg2", shapes.psycopg2(ROLE_MSG), role("psycopg2")),
    (
        "psycopg2 split, wrapper on the line before",
        'psycopg2.OperationalError: connection to server at "10.247.33.115", port 5432 '
        "failed:\nFATAL:  " + RESERVED_15,
        {"kind": K.RESERVED_SLOTS, "source": "psycopg2"},
    ),
    ("psycopg 3", shapes.psycopg3(ROLE_MSG), role("psycopg")),
    (
        "psycopg 3, severity stripped",
        "psycopg.OperationalError: connection failed: " + MAX_MSG,
        maxconn("psycopg"),
    ),
    ("django", shapes.django(MAX_MSG), maxconn("django")),
    ("sqlalchemy", shapes.sqlalchemy(ROLE_MSG), role("sqlalchemy")),
    (
        "sqlalchemy asyncpg",
        "sqlalchemy.exc.OperationalError: (asyncpg.exceptions.TooManyConnectionsError) " + MAX_MSG,
        maxconn("sqlalchemy"),
    ),
    ("pgjdbc", shapes.pgjdbc(MAX_MSG), maxconn("pgjdbc")),
    (
        "pgjdbc in a logback line",
        "2024-05-01 12:00:00.123 ERROR 1 --- [main] o.h.engine.jdbc.spi.SqlExceptionHelper : "
        "FATAL: " + MAX_MSG,
        maxconn("pgjdbc"),
    ),
    ("node-postgres printed", shapes.node_printed(MAX_MSG), maxconn("node-postgres")),
    (
        "node-postgres printed carries its code",
        shapes.node_printed(STARTING, "57P03"),
        {"kind": K.SERVER_NOT_READY, "sqlstate": "57P03", "source": "node-postgres"},
    ),
    (
        "node-postgres JSON",
        shapes.node_json(RESERVED_15),
        {"kind": K.RESERVED_SLOTS, "sqlstate": "53300", "source": "node-postgres"},
    ),
    (
        "node-postgres bare message, JSON dump below",
        RESERVED_15 + "\n"
        '{"name":"error","severity":"FATAL","code":"53300","file":"postinit.c","line":"732",'
        '"routine":"InitPostgres"}',
        {"kind": K.RESERVED_SLOTS, "sqlstate": "53300", "source": "node-postgres"},
    ),
    ("pgx", shapes.pgx(ROLE_MSG), role("pgx")),
    (
        "pgx old",
        shapes.pgx_old(STARTING),
        {"kind": K.SERVER_NOT_READY, "sqlstate": "57P03", "source": "pgx", "detail": "starting up"},
    ),
    (
        "pgx multi-attempt",
        "failed to connect to `user=app database=appdb`:\n\t10.0.0.5:5432 (db1): server error: "
        "FATAL: " + MAX_MSG + " (SQLSTATE 53300)\n\t10.0.0.6:5432 (db2): dial error: timeout",
        maxconn("pgx"),
    ),
    ("lib/pq", shapes.lib_pq(RESERVED_16), {"kind": K.RESERVED_SLOTS, "source": "lib/pq"}),
    ("lib/pq 1.11 code", shapes.lib_pq(MAX_MSG, "53300"), maxconn("lib/pq")),
    (
        "lib/pq 1.11 code 57P03",
        shapes.lib_pq(STARTING, "57P03"),
        {"kind": K.SERVER_NOT_READY, "sqlstate": "57P03", "source": "lib/pq"},
    ),
    ("rails, FATAL in the cause", shapes.rails_caused_by(ROLE_MSG), role("rails")),
    (
        "rails NoDatabaseError cause",
        "ActiveRecord::NoDatabaseError: We could not find your database: appdb.\n"
        "Caused by:\n"
        'PG::ConnectionBad: connection to server at "10.0.0.5", port 5432 failed: FATAL:  '
        + DB_MSG,
        {"kind": K.DATABASE_LIMIT, "database": "appdb", "source": "rails"},
    ),
    (
        "ruby-pg raw",
        "PG::ConnectionBad: FATAL:  " + RESERVED_15,
        {"kind": K.RESERVED_SLOTS, "source": "ruby-pg"},
    ),
    ("ruby full_message", shapes.ruby_full_message(ROLE_MSG), role("ruby-pg")),
    (
        "prisma P2037",
        "Too many database connections opened: FATAL: " + MAX_MSG,
        maxconn("prisma"),
    ),
    (
        "asyncpg",
        "asyncpg.exceptions.TooManyConnectionsError: " + MAX_MSG,
        maxconn("asyncpg"),
    ),
    (
        "slack quote of a client error",
        "> FATAL:  " + ROLE_MSG,
        role("libpq"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=i) for i, t, e in CASES])
def test_format(text: str, expected: dict[str, Any]) -> None:
    signals = scan(text)
    assert len(signals) == 1, signals
    got = signals[0]
    assert {k: getattr(got, k) for k in expected} == expected


def test_psycopg3_operational_error_str_as_is() -> None:
    """The exact str() of psycopg 3's OperationalError for a refused connection."""
    text = (
        'connection failed: connection to server at "127.0.0.1", port 54321 failed: '
        'FATAL:  too many connections for role "x; DROP ROLE admin; --"'
    )
    (s,) = scan(text)
    assert (s.kind, s.role, s.sqlstate, s.source) == (
        K.ROLE_LIMIT,
        "x; DROP ROLE admin; --",
        "53300",
        "psycopg",
    )


def test_psycopg3_multiple_attempts_counts_the_refusal_once() -> None:
    (s,) = scan(shapes.psycopg3_multi(MAX_MSG))
    assert (s.kind, s.count, s.first_line, s.source) == (K.MAX_CONNECTIONS, 1, 1, "psycopg")


def test_psycopg3_multiple_attempts_distinct_refusals() -> None:
    text = "\n".join(
        (
            'connection failed: connection to server at "10.0.0.6", port 5432 failed: FATAL:  '
            + STARTING,
            "Multiple connection attempts failed. All failures were:",
            "- host: 'db1', port: '5432', hostaddr: '10.0.0.5': connection failed: connection "
            'to server at "10.0.0.5", port 5432 failed: FATAL:  ' + MAX_MSG,
            "- host: 'db2', port: '5432', hostaddr: '10.0.0.6': connection failed: connection "
            'to server at "10.0.0.6", port 5432 failed: FATAL:  ' + STARTING,
        )
    )
    got = [(s.kind, s.count, s.first_line) for s in scan(text)]
    assert got == [(K.SERVER_NOT_READY, 1, 1), (K.MAX_CONNECTIONS, 1, 3)]


def test_libpq_multi_host_lists_each_refusal() -> None:
    text = shapes.libpq14(MAX_MSG) + (
        'connection to server at "10.0.0.6" (10.0.0.6), port 5432 failed: FATAL:  '
        + STARTING
        + "\n"
    )
    assert [s.kind for s in scan(text)] == [K.MAX_CONNECTIONS, K.SERVER_NOT_READY]


def test_pretty_printed_jsonlog() -> None:
    text = (
        "{\n"
        '  "timestamp": "2024-05-01 12:00:00.123 UTC",\n'
        '  "user": "app",\n'
        '  "error_severity": "FATAL",\n'
        '  "state_code": "53300",\n'
        '  "message": "too many connections for role \\"a\\"b\\"",\n'
        '  "backend_type": "client backend"\n'
        "}"
    )
    (s,) = scan(text)
    assert (s.kind, s.role, s.sqlstate, s.source, s.first_line) == (
        K.ROLE_LIMIT,
        'a"b',
        "53300",
        "jsonlog",
        6,
    )


def test_cut_json_line_still_read_raw() -> None:
    text = shapes.jsonlog('too many connections for role "m\u00fcller"', ensure_ascii=True)[:-20]
    (s,) = scan(text)
    assert (s.kind, s.role, s.source) == (K.ROLE_LIMIT, "müller", "jsonlog")


def test_json_wrapped_go_log_with_pgx_error() -> None:
    text = (
        '{"level":"error","ts":1714564800.123,"caller":"db/pool.go:42","msg":"connect",'
        '"error":"failed to connect to `user=app database=appdb`: 10.0.0.5:5432 (db): server '
        'error: FATAL: too many connections for database \\"appdb\\" (SQLSTATE 53300)"}'
    )
    (s,) = scan(text)
    assert (s.kind, s.database, s.sqlstate, s.source) == (
        K.DATABASE_LIMIT,
        "appdb",
        "53300",
        "pgx",
    )


def test_java_json_log_with_stack_trace() -> None:
    text = (
        '{"@timestamp":"2024-05-01T12:00:00.123Z","level":"ERROR","logger_name":"com.zaxxer.'
        'hikari.pool.HikariPool","message":"HikariPool-1 - Exception during pool initialization.'
        '","stack_trace":"org.postgresql.util.PSQLException: FATAL: remaining connection slots '
        "are reserved for non-replication superuser connections\\n\\tat org.postgresql.core.v3."
        'ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:693)\\n"}'
    )
    (s,) = scan(text)
    assert (s.kind, s.detail, s.source) == (K.RESERVED_SLOTS, "superuser", "pgjdbc")
