"""Builders of real-shaped text around a server message: log formats and client wrappers,
following the formats PostgreSQL, PgBouncer and the drivers write (see
shared/reference/connection-errors.md A1-A4)."""

from __future__ import annotations

import json

TS = "2024-05-01 12:00:00.123 UTC"


def tabbed(msg: str) -> str:
    """PostgreSQL's stderr/syslog output puts a tab after each newline inside a message."""
    return msg.replace("\n", "\n\t")


# --- server logs -------------------------------------------------------------------------------


def stderr(msg: str, severity: str = "FATAL", prefix: str = f"{TS} [1234] ") -> str:
    """log_destination=stderr, default PG 10+ log_line_prefix `%m [%p] `."""
    return f"{prefix}{severity}:  {tabbed(msg)}"


def stderr_debian(msg: str, severity: str = "FATAL") -> str:
    """Debian/Ubuntu `%m [%p] %q%u@%d `."""
    return stderr(msg, severity, f"{TS} [1234] app@appdb ")


def stderr_rds(msg: str, severity: str = "FATAL") -> str:
    """RDS `%t:%r:%u@%d:[%p]:`."""
    return stderr(msg, severity, "2024-05-01 12:00:00 UTC:10.0.0.7(51234):app@appdb:[1234]:")


def stderr_verbose(
    msg: str, state: str = "53300", location: str = "InitPostgres, postinit.c:1"
) -> str:
    """log_error_verbosity=verbose: SQLSTATE after the label, then a LOCATION line."""
    return f"{TS} [1234] FATAL:  {state}: {tabbed(msg)}\n{TS} [1234] LOCATION:  {location}"


def stderr_96(msg: str, severity: str = "FATAL") -> str:
    """PG <= 9.6: empty log_line_prefix, amid other log lines."""
    return (
        "LOG:  database system is ready to accept connections\n"
        f"{severity}:  {tabbed(msg)}\n"
        "LOG:  autovacuum launcher started"
    )


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def csvlog(
    msg: str,
    severity: str = "FATAL",
    state: str = "53300",
    columns: int = 26,
    user: str = "app",
    db: str = "appdb",
) -> str:
    """csvlog as PostgreSQL writes it: text columns quoted (an absent detail/hint/... left empty),
    23 columns up to PG12, 24 in PG13 (backend_type), 26 from PG14 (leader_pid, query_id)."""
    row = [
        TS,
        _q(user),
        _q(db),
        "1234",
        _q("10.0.0.7:51234"),
        "66321a40.4d2",
        "1",
        _q("authentication"),
        "2024-05-01 12:00:00 UTC",
        "3/0",
        "0",
        severity,
        state,
        _q(msg),
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",  # detail, hint, internal query/pos, context, query/pos, location
        _q(""),  # application_name
    ]
    if columns >= 24:
        row.append(_q("client backend"))
    if columns >= 26:
        row += ["", "0"]
    return ",".join(row)


def jsonlog(msg: str, state: str = "53300", ensure_ascii: bool = False) -> str:
    """log_destination=jsonlog (PG15+); error_severity is never translated."""
    record = {
        "timestamp": TS,
        "user": "app",
        "dbname": "appdb",
        "pid": 1234,
        "remote_host": "10.0.0.7",
        "remote_port": 51234,
        "session_id": "66321a40.4d2",
        "line_num": 1,
        "ps": "authentication",
        "session_start": "2024-05-01 12:00:00 UTC",
        "vxid": "3/0",
        "txid": 0,
        "error_severity": "FATAL",
        "state_code": state,
        "message": msg,
        "backend_type": "client backend",
        "query_id": 0,
    }
    return json.dumps(record, ensure_ascii=ensure_ascii, separators=(",", ":"))


def syslog(msg: str, severity: str = "FATAL") -> str:
    """log_destination=syslog through rsyslog, with syslog_sequence_numbers; a newline in the
    message starts a new record `[n-2]` whose tab rsyslog shows as #011."""
    first, *rest = msg.split("\n")
    lines = [f"May  1 12:00:00 db1 postgres[1234]: [3-1] user=app,db=appdb {severity}:  {first}"]
    for i, part in enumerate(rest, start=2):
        lines.append(f"May  1 12:00:00 db1 postgres[1234]: [3-{i}] #011{part}")
    return "\n".join(lines)


def heroku(msg: str, state: str = "53300") -> str:
    return (
        "2024-05-01T12:00:00+00:00 app[postgres.1234]: [DATABASE] [9-1] "
        f"sql_error_code = {state} FATAL: {msg}"
    )


def cloud_logging(msg: str) -> str:
    """Cloud SQL for PostgreSQL in Google Cloud Logging: the stderr line is `textPayload`."""
    entry = {
        "insertId": "s=8f1c;i=1a;b=93e;m=2f;t=61;x=4d",
        "logName": "projects/acme-prod/logs/cloudsql.googleapis.com%2Fpostgres.log",
        "receiveTimestamp": "2024-05-01T12:00:00.456Z",
        "resource": {
            "labels": {"database_id": "acme-prod:main", "project_id": "acme-prod"},
            "type": "cloudsql_database",
        },
        "severity": "ERROR",
        "textPayload": f"{TS} [1234]: [1-1] db=appdb,user=app FATAL:  {tabbed(msg)}",
        "timestamp": "2024-05-01T12:00:00.123Z",
    }
    return json.dumps(entry)


def cloudnativepg(msg: str, state: str = "53300") -> str:
    """CloudNativePG's instance manager re-emits each csvlog record as JSON."""
    entry = {
        "level": "info",
        "ts": "2024-05-01T12:00:00.123456789Z",
        "logger": "postgres",
        "msg": "record",
        "logging_pod": "cluster-example-1",
        "record": {
            "log_time": TS,
            "user_name": "app",
            "database_name": "app",
            "process_id": "1234",
            "connection_from": "10.244.0.5:51234",
            "session_id": "66321a40.4d2",
            "session_line_num": "1",
            "command_tag": "authentication",
            "session_start_time": "2024-05-01 12:00:00 UTC",
            "virtual_transaction_id": "3/0",
            "transaction_id": "0",
            "error_severity": "FATAL",
            "sql_state_code": state,
            "message": msg,
            "backend_type": "client backend",
            "query_id": "0",
        },
    }
    return json.dumps(entry)


# --- clients -----------------------------------------------------------------------------------

SERVER_AT = 'connection to server at "10.0.0.5" (10.0.0.5), port 5432 failed: '


def libpq13(msg: str, severity: str = "FATAL") -> str:
    """libpq before PG14: PQerrorMessage is `<severity>:  <msg>\\n`."""
    return f"{severity}:  {msg}\n"


def libpq14(msg: str, severity: str = "FATAL") -> str:
    return f"{SERVER_AT}{severity}:  {msg}\n"


def libpq14_split(msg: str) -> str:
    return f'connection to server at "10.247.33.115", port 5432 failed:\nFATAL:  {msg}'


def psql(msg: str) -> str:
    socket = "/var/run/postgresql/.s.PGSQL.5432"
    return f'psql: error: connection to server on socket "{socket}" failed: FATAL:  {msg}'


def psycopg2(msg: str) -> str:
    return f"psycopg2.OperationalError: {libpq14(msg)}"


def psycopg3(msg: str) -> str:
    """str(psycopg.OperationalError) for a failed connect: `connection failed: ` + libpq's text,
    stripped."""
    return f"psycopg.OperationalError: connection failed: {libpq14(msg).strip()}"


def psycopg3_multi(msg: str) -> str:
    """psycopg 3 after several attempts: the last error, then every attempt."""
    last = (
        f'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  {msg}'
    )
    return "\n".join(
        (
            last,
            "Multiple connection attempts failed. All failures were:",
            "- host: 'localhost', port: '5432', hostaddr: '::1': connection failed: connection "
            'to server at "::1", port 5432 failed: Connection refused',
            "\tIs the server running on that host and accepting TCP/IP connections?",
            f"- host: 'localhost', port: '5432', hostaddr: '127.0.0.1': {last}",
        )
    )


def django(msg: str) -> str:
    return (
        'django.db.utils.OperationalError: connection to server at "db" (172.18.0.2), '
        f"port 5432 failed: FATAL:  {msg}"
    )


def sqlalchemy(msg: str) -> str:
    return (
        f"sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) {libpq14(msg)}"
        "(Background on this error at: https://sqlalche.me/e/20/e3q8)"
    )


def pgjdbc(msg: str) -> str:
    return (
        f"org.postgresql.util.PSQLException: FATAL: {msg}\n"
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication("
        "ConnectionFactoryImpl.java:693)\n"
        "\tat org.postgresql.core.v3.ConnectionFactoryImpl.tryConnect("
        "ConnectionFactoryImpl.java:203)"
    )


def node_printed(msg: str, state: str = "53300") -> str:
    """An uncaught node-postgres DatabaseError as util.inspect prints it."""
    return "\n".join(
        (
            f"error: {msg}",
            "    at Parser.parseErrorMessage (/app/node_modules/pg-protocol/dist/parser.js:287:98)",
            "    at Parser.handlePacket (/app/node_modules/pg-protocol/dist/parser.js:126:29)",
            "    at Socket.<anonymous> (/app/node_modules/pg-protocol/dist/index.js:11:42) {",
            "  length: 85,",
            "  severity: 'FATAL',",
            f"  code: '{state}',",
            "  detail: undefined,",
            "  file: 'postinit.c',",
            "  line: '732',",
            "  routine: 'InitPostgres'",
            "}",
        )
    )


def node_json(msg: str, state: str = "53300") -> str:
    """A JSON logger's record of a node-postgres error (enumerable fields plus the message)."""
    return json.dumps(
        {
            "level": "error",
            "message": msg,
            "length": 136,
            "name": "error",
            "severity": "FATAL",
            "code": state,
            "file": "postinit.c",
            "line": "732",
            "routine": "InitPostgres",
        }
    )


def pgx(msg: str, state: str = "53300") -> str:
    """pgx v5.6+ ConnectError."""
    return (
        "failed to connect to `user=app database=appdb`: 10.0.0.5:5432 (db.internal): "
        f"server error: FATAL: {msg} (SQLSTATE {state})"
    )


def pgx_old(msg: str, state: str = "57P03") -> str:
    """pgx v5.0-5.5."""
    return (
        "failed to connect to `host=/controller/run user=postgres database=postgres`: "
        f"server error (FATAL: {msg} (SQLSTATE {state}))"
    )


def lib_pq(msg: str, state: str | None = None) -> str:
    """lib/pq: `pq: <msg>`, with ` (<code>)` since v1.11.0."""
    return f"pq: {msg}" + (f" ({state})" if state else "")


def rails_caused_by(msg: str) -> str:
    """Rails 7+ reclassifies PG::ConnectionBad by substring; the FATAL is only in the cause."""
    return "\n".join(
        (
            "ActiveRecord::DatabaseConnectionError: There is an issue connecting to your "
            "database with your username/password, username: app.",
            "",
            "Please check your database configuration to ensure the username/password are valid.",
            "/usr/local/bundle/gems/activerecord-7.1.3/lib/active_record/connection_adapters/"
            "postgresql_adapter.rb:65:in `rescue in new_client'",
            "Caused by:",
            'PG::ConnectionBad: connection to server at "10.0.0.5", port 5432 failed: '
            f"FATAL:  {msg}",
        )
    )


def ruby_full_message(msg: str) -> str:
    return (
        "/usr/local/bundle/gems/pg-1.5.4/lib/pg/connection.rb:701:in `async_connect_or_reset': "
        f'connection to server at "10.0.0.5", port 5432 failed: FATAL:  {msg} (PG::ConnectionBad)'
    )


# --- PgBouncer ---------------------------------------------------------------------------------


def pgbouncer_log(reason: str, level: str = "WARNING", db: str = "appdb", user: str = "app") -> str:
    return (
        f"2024-05-01 12:00:00.123 UTC [1234] {level} C-0x55d5c8f0a2b0: "
        f"{db}/{user}@10.0.0.7:51234 pooler error: {reason}"
    )


def pgbouncer_closing(reason: str, age: int = 120) -> str:
    return (
        "2024-05-01 12:00:00.124 UTC [1234] LOG C-0x55d5c8f0a2b0: appdb/app@10.0.0.7:51234 "
        f"closing because: {reason} (age={age}s)"
    )
