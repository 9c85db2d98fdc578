"""What people paste around a message: a line of its own, a quotation in a sentence, a
translated server with full-width punctuation, traces escaped inside other logs, colours,
Markdown - and a trace that prints one error twice."""

from __future__ import annotations

import json

import pytest

from bot.signals import SignalKind, scan, scan_stream

from . import shapes

K = SignalKind
MAX = "sorry, too many clients already"
ROLE = 'too many connections for role "bob"'


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        # A line that is exactly a server message, as monitoring tools and chat carry it.
        pytest.param(ROLE, K.ROLE_LIMIT, "bob", id="bare role line"),
        pytest.param(MAX + ".", K.MAX_CONNECTIONS, None, id="bare line, full stop"),
        pytest.param(f"> {MAX}", K.MAX_CONNECTIONS, None, id="quoted reply"),
        pytest.param(f"- `{ROLE}`", K.ROLE_LIMIT, "bob", id="list item in code"),
        pytest.param(
            "the database system is starting up", K.SERVER_NOT_READY, None, id="bare 57P03"
        ),
        # Quoted inside a sentence in an incident channel.
        pytest.param(f"prod says `{MAX}` since 03:00", K.MAX_CONNECTIONS, None, id="backticks"),
        pytest.param(f"is `{MAX}` the max_connections one?", K.MAX_CONNECTIONS, None, id="ask"),
        pytest.param(
            'checkout fails with "too many connections for database "shop"" again',
            K.DATABASE_LIMIT,
            "shop",
            id="double quotes",
        ),
        pytest.param(f"api-7f9 logs: {ROLE}", K.ROLE_LIMIT, "bob", id="after a colon"),
        pytest.param(f"la base répond « {MAX} »", K.MAX_CONNECTIONS, None, id="guillemets"),
        # Translated servers: full-width punctuation, translated severity, no SQLSTATE.
        pytest.param("致命错误：对不起，已经有太多的客户", K.MAX_CONNECTIONS, None, id="zh wide"),
        pytest.param("对不起，已经有太多的客户", K.MAX_CONNECTIONS, None, id="zh wide bare"),
        pytest.param('致命错误:  由角色"bob"发起的连接太多了', K.ROLE_LIMIT, "bob", id="zh role"),
        pytest.param(
            'ВАЖНО:  слишком много подключений для роли "bob"', K.ROLE_LIMIT, "bob", id="ru"
        ),
    ],
)
def test_message_people_paste(text: str, kind: SignalKind, name: str | None) -> None:
    (s,) = scan(text)
    assert (s.kind, s.role or s.database) == (kind, name)


def test_quotation_in_code_or_sql_is_not_a_signal() -> None:
    for text in (
        "SELECT * FROM pg_log WHERE message = 'sorry, too many clients already';",
        f"if msg == '{MAX}': retry()",
        f'grep -c "{MAX}" postgresql.log',
        f"assert err.message.startswith('{MAX}')",
    ):
        assert scan(text) == [], text


TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/app/db.py", line 10, in connect\n'
    "    return psycopg2.connect(dsn)\n" + shapes.psycopg2(ROLE) + "\n"
)


@pytest.mark.parametrize(
    "text",
    [
        # A structured logger's JSON line holding a whole trace, JSON-escaped.
        pytest.param(
            json.dumps({"level": "error", "event": "db connect failed", "exception": TRACE}),
            id="json line",
        ),
        # The same line cut by a log shipper: not valid JSON any more, escapes left raw.
        pytest.param(json.dumps({"level": "error", "exception": TRACE})[:-2], id="json line cut"),
        # Docker's json-file driver around an application's own JSON line.
        pytest.param(
            json.dumps({"log": json.dumps({"msg": "failed", "err": TRACE}) + "\n"}),
            id="json in json",
        ),
        # Colours: raw ESC, journald's #033, and the escape a JSON log leaves.
        pytest.param(
            f"\x1b[31m2024-05-01 12:00:00 ERROR\x1b[0m db: \x1b[1m{shapes.libpq14(ROLE)}\x1b[0m",
            id="ansi",
        ),
        pytest.param(
            "May 01 12:00:00 api-1 app[812]: #033[31mERROR#033[0m "
            + shapes.psycopg2(ROLE).replace("FATAL:", "#033[1mFATAL:#033[0m"),
            id="journald ansi",
        ),
        pytest.param(
            json.dumps({"msg": "\x1b[31mFATAL:  " + ROLE + "\x1b[0m", "level": "error"}),
            id="ansi escaped in json",
        ),
        # Markdown: a fenced block, a table cell.
        pytest.param("```\n" + shapes.stderr(ROLE) + "\n```", id="fence"),
        pytest.param(
            "| time | level | message |\n| --- | --- | --- |\n| 12:00:01 | FATAL | " + ROLE + " |",
            id="table cell",
        ),
        pytest.param(f"| 12:00:01 | {ROLE} | api-7f9 |", id="table cell, more columns"),
    ],
)
def test_escaped_and_decorated(text: str) -> None:
    (s,) = scan(text)
    assert (s.kind, s.role, s.count) == (K.ROLE_LIMIT, "bob", 1)


# --- Counting: one error printed twice by a chained trace is one occurrence. ---------------

PY_CHAINED = "\n".join(
    (
        "Traceback (most recent call last):",
        '  File "/app/db.py", line 10, in connect',
        shapes.psycopg2(MAX),
        "",
        "The above exception was the direct cause of the following exception:",
        "",
        "Traceback (most recent call last):",
        '  File "/app/views.py", line 3, in index',
        shapes.sqlalchemy(MAX),
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
    )
)
JAVA_CHAINED = "\n".join(
    (
        "org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC "
        "Connection; nested exception is org.postgresql.util.PSQLException: FATAL: " + MAX,
        "\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection("
        "DataSourceUtils.java:83)",
        "Caused by: org.postgresql.util.PSQLException: FATAL: " + MAX,
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication("
        "ConnectionFactoryImpl.java:693)",
    )
)
DOTNET_CHAINED = "\n".join(
    (
        "System.InvalidOperationException: An exception has been raised that is likely due to a "
        "transient failure.",
        " ---> Npgsql.PostgresException (0x80004005): 53300: " + MAX,
        "   at Npgsql.Internal.NpgsqlConnector.ReadMessageLong(Boolean async)",
        "   --- End of inner exception stack trace ---",
    )
)
NODE_CAUSE = "\n".join(
    (
        "Error: db unavailable",
        "    at connect (/app/db.js:10:11) {",
        "  [cause]: error: " + MAX,
        "      at Parser.parseErrorMessage (/app/node_modules/pg-protocol/dist/parser.js:369:69)",
        "  {",
        "    severity: 'FATAL',",
        "    code: '53300',",
        "  }",
        "}",
    )
)


@pytest.mark.parametrize(
    ("text", "source"),
    [
        pytest.param(PY_CHAINED, "sqlalchemy", id="python cause then wrapper"),
        pytest.param(JAVA_CHAINED, "pgjdbc", id="java caused by"),
        pytest.param(DOTNET_CHAINED, "npgsql", id="dotnet inner exception"),
        pytest.param(NODE_CAUSE, "node-postgres", id="node cause"),
    ],
)
def test_a_chained_trace_counts_its_error_once(text: str, source: str) -> None:
    (s,) = scan(text)
    assert (s.kind, s.count, s.first_line, s.source) == (
        K.MAX_CONNECTIONS,
        1,
        text.split("\n").index(next(t for t in text.split("\n") if MAX in t)) + 1,
        source,
    )


def test_separate_chained_traces_still_count_each() -> None:
    (s,) = scan("\n".join((PY_CHAINED, "", PY_CHAINED, "", JAVA_CHAINED)))
    assert (s.count, s.source) == (3, "sqlalchemy")


def test_repeats_without_a_chain_count_each() -> None:
    (s,) = scan("\n".join((shapes.psycopg2(MAX),) * 3))
    assert s.count == 3


def test_chained_counting_is_the_same_when_streamed_in_small_chunks() -> None:
    text = (
        "\n".join((PY_CHAINED, "", JAVA_CHAINED, "filler line\n" * 3000, PY_CHAINED)) * 3
    ).encode()
    chunks = [text[i : i + 4093] for i in range(0, len(text), 4093)]
    assert scan_stream(chunks) == scan(text)
    (s,) = scan(text)
    assert s.count == 9
