"""Log-format unwrapping and source naming.

A candidate line is turned into one or more segments of text in which messages are looked
for. Structured records (csvlog, jsonlog, CloudNativePG, JSON objects that carry a severity or
an SQLSTATE next to their message) yield the message field itself, already unescaped, with the
SQLSTATE the record carries. Every other line is one segment, tagged with its format when the
prefix says (syslog, Heroku, PgBouncer's own log); the message inside is then found by its
lead-in (see `parse`), and `source_for` names the producer from what precedes it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.signals.lines import Neighbourhood

SQLSTATE = r"(?=[A-Z]*[0-9])[0-9A-Z]{5}"
_SQLSTATE_FULL = re.compile(SQLSTATE + r"\Z")

_CSV_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [\w+:/-]{1,40})?,")
_CSV_MAX_LINES = 100
_CSV_MAX_CHARS = 128 * 1024
# csvlog columns (0-based): error_severity, sql_state_code, message; 23 columns up to PG12,
# 24 with backend_type (PG13), 26 with leader_pid and query_id (PG14+).
_CSV_SEVERITY, _CSV_STATE, _CSV_MESSAGE = 11, 12, 13
_CSV_MIN_COLUMNS = 23

_SYSLOG = re.compile(
    r"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)"
    r" \S+ [^\s\[\]:]+\[\d+\]: \[\d+-\d+\] "
)
_HEROKU = re.compile(r"\bapp\[postgres\.\d+\]: \[[A-Z0-9_]+\] \[\d+-\d+\] ")
_HEROKU_STATE = re.compile(r"\bsql_error_code = (" + SQLSTATE + r")\b")
# PgBouncer: "%s [%u] %s %s" (time, pid, level, message); older versions print no brackets.
_PGBOUNCER = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?: [A-Za-z0-9+:-]{1,10})? \[?\d+\]?"
    r" (?:LOG|WARNING|ERROR|FATAL|DEBUG|NOISE) "
)
_PGBOUNCER_CLIENT = re.compile(r"\b[CS]-0x[0-9a-f]+: (?P<db>[^/\s]*)/(?P<user>[^@\s]*)@")

_JSON_MESSAGE_KEYS = frozenset({"message", "msg", "M", "error", "err", "textPayload"})
_JSON_SEVERITY_KEYS = ("error_severity", "severity", "S", "V")
_JSON_STATE_KEYS = (
    "state_code",
    "sql_state_code",
    "sqlstate",
    "sqlState",
    "SQLState",
    "sql_state",
    "code",
    "C",
    "pg_code",
)
_JSON_CLOUD_KEYS = ("textPayload", "logName", "insertId")
_JSON_MAX_DEPTH = 16
_JSON_MAX_STRINGS = 2000


@dataclass(frozen=True, slots=True)
class Segment:
    """Text in which to look for messages."""

    text: str
    # The text is exactly a message field of a record that reports an error: a message may
    # start at its first character without any lead-in.
    structured: bool = False
    source: str | None = None
    sqlstate: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    # A string value of a JSON object that is not an error record (`{"a": "..."}`).
    from_json: bool = False


def _state(value: object) -> str | None:
    if isinstance(value, str) and _SQLSTATE_FULL.match(value):
        return value
    return None


def _csvlog(line: str, ctx: Neighbourhood) -> Segment | None:
    text = line
    if text.count('"') % 2:
        for nxt in ctx.after(_CSV_MAX_LINES):
            text += "\n" + nxt
            if text.count('"') % 2 == 0 or len(text) > _CSV_MAX_CHARS:
                break
    try:
        row = next(csv.reader(io.StringIO(text)))
    except (csv.Error, StopIteration):
        return None
    if len(row) < _CSV_MIN_COLUMNS or not row[_CSV_SEVERITY]:
        return None
    state = row[_CSV_STATE]
    if state and not _SQLSTATE_FULL.match(state):
        return None
    return Segment(row[_CSV_MESSAGE], True, "csvlog", state or None)


def _walk(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > _JSON_MAX_DEPTH:
        return
    if isinstance(value, dict):
        yield value
        for v in value.values():
            if isinstance(v, dict | list):
                yield from _walk(v, depth + 1)
    elif isinstance(value, list):
        strings = {str(i): v for i, v in enumerate(value) if isinstance(v, str)}
        if strings:
            yield strings
        for v in value:
            if isinstance(v, dict | list):
                yield from _walk(v, depth + 1)


def _json(obj: dict[str, Any], needles: list[str]) -> list[Segment]:
    cloud = any(k in obj for k in _JSON_CLOUD_KEYS)
    out: list[Segment] = []
    seen = 0
    for d in _walk(obj):
        record_state = next((s for k in _JSON_STATE_KEYS if (s := _state(d.get(k)))), None)
        severity = next((d[k] for k in _JSON_SEVERITY_KEYS if isinstance(d.get(k), str)), None)
        if "sql_state_code" in d or (d.get("logger") == "postgres" and "record" in d):
            source: str | None = "cloudnativepg"
        elif "error_severity" in d and "state_code" in d:
            source = "jsonlog"
        elif d.get("name") == "error" and "severity" in d and "code" in d:
            source = "node-postgres"
        else:
            source = None
        if cloud:
            source = "cloud_logging"
        evidence = record_state is not None or (
            severity is not None and severity.upper() in ("FATAL", "ERROR", "PANIC")
        )
        for key, value in d.items():
            seen += 1
            if seen > _JSON_MAX_STRINGS:
                return out
            if not isinstance(value, str) or not any(n in value for n in needles):
                continue
            structured = evidence and key in _JSON_MESSAGE_KEYS and key != "textPayload"
            out.append(Segment(value, structured, source, record_state, from_json=True))
    return out


def _continuation(line: str) -> str:
    """The text a wrapped message continues with on the next line: after the syslog prefix and
    the tab PostgreSQL puts after a newline in a message (`#011` once through rsyslog)."""
    m = _SYSLOG.match(line)
    if m:
        line = line[m.end() :]
    if "#011" in line[:80]:
        return line.split("#011", 1)[1]
    if "\t" in line[:200]:
        return line.split("\t", 1)[1]
    return line.strip()


def segments(line: str, ctx: Neighbourhood, needles: list[str], multiline: bool) -> list[Segment]:
    """Split a candidate line into the segments to search. `needles` are the literals the
    prefilter found in it; `multiline` says one of its messages may continue on the next line."""
    if _CSV_START.match(line):
        seg = _csvlog(line, ctx)
        if seg is not None:
            return [seg]
    out: list[Segment] = []
    brace = line.find("{")
    if brace >= 0:
        try:
            obj, end = json.JSONDecoder().raw_decode(line, brace)
        except (ValueError, RecursionError):
            obj, end = None, brace
        if isinstance(obj, dict):
            out = _json(obj, needles)
            outside = line[:brace] + "\n" + line[end:]
            if not any(n in outside for n in needles):
                return out
    text = line
    if multiline:
        nxt = ctx.after(1)
        if nxt:
            text = line + "\n" + _continuation(nxt[0])
    fields: dict[str, str] = {}
    state = None
    source = None
    if m := _HEROKU.search(line):
        source = "heroku"
        if sm := _HEROKU_STATE.search(line, m.end()):
            state = sm[1]
    elif _SYSLOG.match(line):
        source = "syslog"
    elif _PGBOUNCER.match(line):
        source = "pgbouncer"
        if cm := _PGBOUNCER_CLIENT.search(line):
            fields = {"database": cm["db"], "user": cm["user"]}
    out.append(Segment(text, False, source, state, fields))
    return out


# Producers recognised from what precedes a message, outermost wrapper first: the name, literals
# one of which the text must hold (a cheap test before the regex), the regex.
_WRAPPERS: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (name, hints, re.compile(rx))
    for name, hints, rx in (
        (
            "sqlalchemy",
            ("sqlalchemy", "(psycopg", "(asyncpg", "(pg8000"),
            r"\bsqlalchemy\.|\((?:psycopg2?|asyncpg|pg8000)[\w.]*\.\w+\) ",
        ),
        ("django", ("django.db.",), r"\bdjango\.db\."),
        # doctrine/dbal src/Exception/DriverException.php around PDO's `SQLSTATE[08006] [7]`.
        (
            "doctrine",
            ("Doctrine\\DBAL", "An exception occurred in the driver"),
            r"Doctrine\\DBAL|An exception occurred in the driver",
        ),
        ("rails", ("ActiveRecord::",), r"\bActiveRecord::"),
        ("ruby-pg", ("PG::",), r"\bPG::[A-Z]\w*"),
        ("psycopg2", ("psycopg2",), r"\bpsycopg2\b"),
        (
            "psycopg",
            ("psycopg", "connection failed: ", "- host: "),
            r"\bpsycopg\b|connection failed: |^- host: ",
        ),
        ("asyncpg", ("asyncpg",), r"\basyncpg\b"),
        ("pgjdbc", ("PSQLException", "org.postgresql"), r"PSQLException|\borg\.postgresql\b"),
        (
            "pgx",
            ("server error", "failed to connect to `"),
            r"\bserver error[ :(]|failed to connect to `",
        ),
        ("lib/pq", ("pq: ",), r"(?<![\w.])pq: "),
        (
            "prisma",
            ("risma", "P20", "Too many database connections opened"),
            r"[Pp]risma|\bP20\d\d\b|Too many database connections opened",
        ),
        (
            "libpq",
            ("connection to server ", "psql: ", "could not connect to server: "),
            r"connection to server (?:at|on) |\bpsql: |could not connect to server: ",
        ),
        (
            "pgbouncer",
            ("pooler error: ", "closing because: ", "server login failed: ", "pgbouncer"),
            r"pooler error: |closing because: |server login failed: |\bpgbouncer\b",
        ),
        # porsager/postgres src/errors.js: `PostgresError: <message>`.
        ("postgres.js", ("PostgresError",), r"\bPostgresError\b"),
        ("node-postgres", ("error: ",), r"(?<!\w)error: "),
    )
)
_LOG_PREFIX = re.compile(r"\d\d:\d\d:\d\d|\[\d+\]|^\s*\d{4}-\d\d-\d\d")
_LOG_NEIGHBOUR = re.compile(r"(?:LOG|STATEMENT|LOCATION|CONTEXT|WARNING|ERROR|NOTICE):  ")
_JAVA = re.compile(r"\borg\.postgresql\b|PSQLException|\bjava\.|SqlExceptionHelper|SQLState")
# Wrappers sit just before the message they wrap (an exception class, libpq's
# `connection to server at "..." (...), port N failed: `), or start the line.
_WRAPPER_SCAN = 400
# Ruby prints an exception as "<message> (PG::ConnectionBad)".
_RUBY_CLASS = re.compile(r"\((PG|ActiveRecord)::\w+\)\s*$")
_TWO_SPACES = re.compile(r":(?:  |\t)")


# Numbers standing alone (timestamps, pids, ports), not digits inside names (psycopg2, P2037).
_NUMBERS = re.compile(r"(?<![A-Za-z\d])\d+")


def wrapper(text: str) -> str | None:
    """The outermost producer named in `text` (its last few hundred characters and its start)."""
    tail = text if len(text) <= _WRAPPER_SCAN else text[:80] + "\n" + text[-_WRAPPER_SCAN:]
    # The numbers in a prefix (timestamps, pids) never change the answer: cache on the prefix
    # with them masked, so a storm of refusals costs one lookup per line shape.
    return _wrapper(_NUMBERS.sub("0", tail))


@functools.lru_cache(maxsize=4096)
def _wrapper(tail: str) -> str | None:
    for name, hints, rx in _WRAPPERS:
        if any(h in tail for h in hints) and rx.search(tail):
            return name
    return None


def _java_near(ctx: Neighbourhood) -> bool:
    if "java" not in ctx.memo:
        ctx.memo["java"] = any(_JAVA.search(t) for t in (ctx.line, *ctx.before(3), *ctx.after(3)))
    return ctx.memo["java"] is True


def _ruby_class(ctx: Neighbourhood) -> str | None:
    if "ruby" not in ctx.memo:
        m = _RUBY_CLASS.search(ctx.line[-200:])
        ctx.memo["ruby"] = m[1] if m else None
    found = ctx.memo["ruby"]
    return found if isinstance(found, str) else None


def source_for(
    seg: Segment, before_leadin: str, leadin: str, severity: bool, ctx: Neighbourhood
) -> str:
    """Name the format or producer of a message found in `seg` after the lead-in `leadin`
    (`severity` when that is a severity label), `before_leadin` being the text before it."""
    if seg.source:
        return seg.source
    found = wrapper(before_leadin + leadin)
    if found in (None, "libpq") and (ruby := _ruby_class(ctx)):
        found = "rails" if ruby == "ActiveRecord" else "ruby-pg"
    if found == "ruby-pg" and any("ActiveRecord::" in t for t in ctx.before(60)):
        return "rails"
    if found:
        return found
    if not severity:
        return "text"
    # PostgreSQL's log and libpq put two spaces after the label; pgjdbc and pgx one.
    two_spaces = _TWO_SPACES.search(leadin) is not None
    if before_leadin.strip():
        if two_spaces and _LOG_PREFIX.search(before_leadin):
            return "stderr"
    else:
        prev = ctx.before(1)
        if prev and prev[0].rstrip().endswith("failed:"):
            return wrapper(prev[0]) or "libpq"
        if any(_LOG_NEIGHBOUR.match(t) for t in (*ctx.before(3), *ctx.after(3))):
            return "stderr"
    if two_spaces:
        return "libpq"
    return "pgjdbc" if _java_near(ctx) else "text"
