"""How drivers print a server's ErrorResponse when no severity label precedes the message.

Each builder takes the fields of one ErrorResponse (a real one, captured from a throwaway
server, in `test_drivers.py`) and lays them out the way the named driver's own code does; the
repository and file it follows are cited next to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fields:
    """The ErrorResponse fields a driver receives (protocol letters S V C M F L R)."""

    severity: str  # S, translated
    severity_v: str  # V, never translated
    code: str  # C
    message: str  # M
    file: str  # F
    line: str  # L
    routine: str  # R


def _js(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def node_inspect(f: Fields) -> str:
    """brianc/node-postgres packages/pg-protocol/src/parser.ts parseErrorMessage: a
    DatabaseError named 'error' with the fields assigned in protocol order, printed by
    util.inspect (stack first, then the own properties)."""
    return (
        f"error: {f.message}\n"
        "    at Parser.parseErrorMessage (/app/node_modules/pg-protocol/dist/parser.js:369:69)\n"
        "    at Parser.handlePacket (/app/node_modules/pg-protocol/dist/parser.js:187:21)\n"
        "    at Socket.<anonymous> (/app/node_modules/pg-protocol/dist/index.js:11:42) {\n"
        f"  length: {len(f.message) + 60},\n"
        f"  severity: {_js(f.severity)},\n"
        f"  code: {_js(f.code)},\n"
        "  detail: undefined,\n  hint: undefined,\n  position: undefined,\n"
        "  internalPosition: undefined,\n  internalQuery: undefined,\n  where: undefined,\n"
        "  schema: undefined,\n  table: undefined,\n  column: undefined,\n"
        "  dataType: undefined,\n  constraint: undefined,\n"
        f"  file: {_js(f.file)},\n  line: {_js(f.line)},\n  routine: {_js(f.routine)}\n}}"
    )


def postgres_js_inspect(f: Fields, class_name: str = "PostgresError") -> str:
    """porsager/postgres src/errors.js: `class PostgresError extends Error` with the parsed
    fields assigned (src/connection.js ErrorResponse), printed by util.inspect; a bundler
    renames the class (`class_name`)."""
    return (
        f"{class_name}: {f.message}\n"
        "    at ErrorResponse (file:///app/node_modules/postgres/src/connection.js:794:26)\n"
        "    at handle (file:///app/node_modules/postgres/src/connection.js:480:6) {\n"
        f"  severity_local: {_js(f.severity)},\n  severity: {_js(f.severity_v)},\n"
        f"  code: {_js(f.code)},\n  file: {_js(f.file)},\n  line: {_js(f.line)},\n"
        f"  routine: {_js(f.routine)}\n}}"
    )


def npgsql(f: Fields) -> str:
    """npgsql/npgsql src/Npgsql/PostgresException.cs GetMessage: `SqlState + ": " +
    MessageText`, in .NET's exception ToString."""
    return (
        f"Npgsql.PostgresException (0x80004005): {f.code}: {f.message}\n"
        "   at Npgsql.Internal.NpgsqlConnector.ReadMessageLong(Boolean async, "
        "DataRowLoadingMode dataRowLoadingMode, Boolean readingNotifications, "
        "Boolean isReadingPrependedMessage)\n"
        "   at Npgsql.Internal.NpgsqlConnector.OpenCore(NpgsqlConnector conn, SslMode "
        "sslMode, NpgsqlTimeout timeout, Boolean async, CancellationToken cancellationToken)"
    )


def _ex(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def postgrex_message(f: Fields, code_name: str) -> str:
    """elixir-ecto/postgrex lib/postgrex/error.ex message/1: severity, pg_code, (code name),
    message - no colons."""
    return f"** (Postgrex.Error) {f.severity} {f.code} ({code_name}) {f.message}"


def postgrex_struct(f: Fields, code_name: str) -> str:
    """The same exception printed with inspect/1 (map keys in sorted order)."""
    return (
        "%Postgrex.Error{message: nil, postgres: %{code: :"
        + code_name
        + f", file: {_ex(f.file)}, line: {_ex(f.line)}, message: {_ex(f.message)}, "
        f"pg_code: {_ex(f.code)}, routine: {_ex(f.routine)}, severity: {_ex(f.severity)}, "
        f"unknown: {_ex(f.severity_v)}}}, connection_id: nil, query: nil}}"
    )


def _bin(value: str) -> str:
    return '<<"' + value.replace("\\", "\\\\").replace('"', '\\"') + '">>'


def epgsql(f: Fields, code_name: str) -> str:
    """epgsql/epgsql include/epgsql.hrl `-record(error, {severity, code, codename, message,
    extra})`, returned as `{error, #error{}}` and printed by io:format ~p."""
    return (
        f"{{error,{{error,{f.severity_v.lower()},{_bin(f.code)},{code_name},{_bin(f.message)},"
        f"[{{file,{_bin(f.file)}}},{{line,{_bin(f.line)}}},{{routine,{_bin(f.routine)}}}]}}}}"
    )


def r2dbc_map(f: Fields) -> str:
    """pgjdbc/r2dbc-postgresql src/main/java/io/r2dbc/postgresql/api/ErrorDetails.java: the
    fields as a Map<FieldType, String> (`{SEVERITY_LOCALIZED=FATAL, ...}`) in the exception
    ExceptionFactory raises."""
    return (
        "io.r2dbc.postgresql.ExceptionFactory$PostgresqlNonTransientResourceException: "
        f"[{f.code}] {f.message}\n"
        f"\t{{SEVERITY_LOCALIZED={f.severity}, SEVERITY_NON_LOCALIZED={f.severity_v}, "
        f"CODE={f.code}, MESSAGE={f.message}, FILE={f.file}, LINE={f.line}, "
        f"ROUTINE={f.routine}}}"
    )


def r2dbc_fields(f: Fields) -> str:
    """r2dbc-postgresql message/backend/ErrorResponse.java and Field.java toString():
    `ErrorResponse{fields=[Field{type=..., value='...'}, ...]}`."""
    fields = (
        ("SEVERITY_LOCALIZED", f.severity),
        ("SEVERITY_NON_LOCALIZED", f.severity_v),
        ("CODE", f.code),
        ("MESSAGE", f.message),
        ("FILE", f.file),
        ("LINE", f.line),
        ("ROUTINE", f.routine),
    )
    inner = ", ".join(f"Field{{type={t}, value='{v}'}}" for t, v in fields)
    return f"ErrorResponse{{fields=[{inner}]}}"


def _rust(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tokio_debug(f: Fields) -> str:
    """sfackler/rust-postgres tokio-postgres/src/error/mod.rs: `DbError` derives Debug,
    `SqlState` prints its variant (`E53300`)."""
    return (
        "Error { kind: Db, cause: Some(DbError { severity: "
        + _rust(f.severity)
        + ", parsed_severity: Some(Fatal), code: SqlState(E"
        + f.code
        + "), message: "
        + _rust(f.message)
        + ", detail: None, hint: None, position: None, where_: None, schema: None, "
        "table: None, column: None, datatype: None, constraint: None, file: Some("
        + _rust(f.file)
        + f"), line: Some({f.line}), routine: Some("
        + _rust(f.routine)
        + ") }) }"
    )


def raw_error_response(f: Fields) -> str:
    """The ErrorResponse body itself (protocol: a type byte, a C string, per field), as Rust's
    escape_ascii/Debug of a byte string prints it."""
    body = b"".join(
        letter + value.encode() + b"\0"
        for letter, value in (
            (b"S", f.severity),
            (b"V", f.severity_v),
            (b"C", f.code),
            (b"M", f.message),
            (b"F", f.file),
            (b"L", f.line),
            (b"R", f.routine),
        )
    )
    return 'unexpected message from server: b"' + body.decode().replace("\0", "\\0") + '\\0"'


def bare_fatal_code(f: Fields) -> str:
    """`severity code message` without colons: the layout of Postgrex.Error's message/1
    without its code name, as loggers of other pools print the three fields."""
    return f"2024-05-01 12:00:00.123 [error] {f.severity} {f.code} {f.message}"


def pgpool_relay(message: str) -> str:
    """pgpool/pgpool2 src/protocol/pool_proto_modules.c pool_read_kind: LOG of the main
    backend's error when the backends disagree, behind Pgpool-II's log_line_prefix."""
    return (
        "2024-05-01 12:00:00.123: psql pid 4711: LOG:  pool_read_kind: error message from "
        f"main backend:{message}"
    )
