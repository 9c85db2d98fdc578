"""Recognise messages in a candidate line.

What makes a signal. The exact wording of a server or PgBouncer message (in any language the
server ships) counts only where an error report puts a message:

* right after a severity label: `FATAL:` or its translation (`ВАЖНО:`, `FATALE:`, `致命错误:` ...)
  or `ERROR:`, with the verbose SQLSTATE if any (`FATAL:  53300: `) - a server log line, libpq,
  pgjdbc, pgx;
* right after a driver's or pooler's error prefix: `pq: `, node-postgres' `error: `, psycopg 3's
  `connection failed: `, an exception class (`PG::ConnectionBad: `,
  `(psycopg2.OperationalError) `), PgBouncer's `pooler error: `, `closing because: `,
  `cached error: `, `server login failed: FATAL `;
* at the start of the message field of a structured record that reports an error (csvlog,
  jsonlog, CloudNativePG, a JSON object with a severity or an SQLSTATE beside its message);
* bare at the start of a line only when an SQLSTATE backs it: `(SQLSTATE 53300)` or ` (53300)`
  after it, or node-postgres' printed error object (`code: '53300'`) below it.

Library pool timeouts carry their own numbers and count wherever they appear (pg-pool's,
which has none, needs an error prefix). So chat about "too many clients", SQL quoting a
message (`LIKE '%too many connections for role%'`) and MySQL's `Too many connections` are not
signals: the wording is absent, or nothing that reports an error precedes it.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.signals.formats import SQLSTATE, Segment, segments, source_for, wrapper
from bot.signals.lines import Neighbourhood
from bot.signals.messages import (
    CACHED_ERROR,
    FATAL_WORDS,
    LIMIT_SQLSTATE,
    MESSAGES,
    NOT_READY_SQLSTATE,
    Message,
)
from bot.signals.model import SignalKind
from bot.signals.template import TRAILER, Found, Matcher, needle_forms


@dataclass(frozen=True, slots=True)
class Hit:
    """One message recognised in one line."""

    kind: SignalKind
    role: str | None
    database: str | None
    sqlstate: str | None
    source: str
    detail: str | None
    identity: str | None
    pooler: str | None = None

    @property
    def key(self) -> tuple[SignalKind, str | None, str | None, str | None]:
        return (self.kind, self.role, self.database, self.identity)


MATCHERS: tuple[Matcher, ...] = tuple(Matcher(m) for m in MESSAGES)
NEEDLES: tuple[tuple[str, ...], ...] = tuple(needle_forms(m) for m in MESSAGES)
SERVER_IDS = frozenset(i for i, m in enumerate(MESSAGES) if m.producer == "postgres")
_SERVER_MATCHERS = tuple(MATCHERS[i] for i in sorted(SERVER_IDS))
_MULTILINE_IDS = frozenset(i for i, m in enumerate(MESSAGES) if "\n" in m.text)

# Severity labels, longest first so "ÖLÜMCÜL (FATAL)" wins over "FATAL".
_SEVERITIES = tuple(sorted((*FATAL_WORDS, "ERROR"), key=len, reverse=True))
# Error prefixes ending in ": " (besides severity labels) and the lead-in kind they make.
_COLON_LEADS = (
    ("connection failed", "psycopg"),
    ("cached error", "cached"),
    ("pooler error", "bouncer"),
    ("closing because", "bouncer"),
)
# Exception class name endings: `OperationalError: `, `(psycopg2.OperationalError) `,
# `PG::ConnectionBad: `, `psycopg_pool.PoolTimeout: `.
_CLASS_ENDINGS = ("Error", "Exception", "Bad", "Timeout")
_JSON_FIELD = re.compile(r'"(?:message|msg|M)"[ \t]*:[ \t]*"\Z')
_STATE5 = re.compile(SQLSTATE + r"\Z")
_LEADIN_REACH = 80


@dataclass(frozen=True, slots=True)
class LeadIn:
    """What precedes a message and makes it a report: `kind` (see `_leadin`), where it starts
    and, for `FATAL:  53300: `, the SQLSTATE it carries."""

    kind: str
    start: int
    vstate: str | None = None


def _word_end(body: str, words: tuple[str, ...], boundary: str = "") -> str | None:
    """The word of `words` that `body` ends with, if it is a whole word there."""
    for w in words:
        if body.endswith(w):
            k = len(body) - len(w)
            if k == 0 or not (body[k - 1].isalnum() or body[k - 1] in "_" + boundary):
                return w
    return None


def _leadin(text: str, pos: int) -> LeadIn | None:
    """Classify what ends right at `pos`: a severity label (`sev`), `pq: ` (`pq`), psycopg 3's
    `connection failed: ` (`psycopg`), PgBouncer's `cached error: ` (`cached`), `pooler error: `
    or `closing because: ` (`bouncer`), `server login failed: FATAL ` (`login`), node's
    `error: ` (`node`), an exception class (`exc`), a JSON message field (`json`)."""
    lo = max(0, pos - _LEADIN_REACH)
    window = text[lo:pos]
    if not window:
        return None
    if window[-1] == '"':
        m = _JSON_FIELD.search(window)
        return LeadIn("json", lo + m.start()) if m else None
    core = window.rstrip(" \t")
    if len(core) == len(window) and not core.endswith("\uff1a"):
        return None
    if core.endswith((":", "\uff1a")):  # a translated label may end in a full-width colon
        body = core[:-1]
        if _STATE5.search(body):  # log_error_verbosity=verbose: "FATAL:  53300: "
            label = body[:-5].rstrip(" \t")
            if label.endswith(":") and len(label) < len(body) - 5:
                word = _word_end(label[:-1], _SEVERITIES)
                if word:
                    return LeadIn("sev", lo + len(label) - 1 - len(word), body[-5:])
        word = _word_end(body, _SEVERITIES)
        if word:
            return LeadIn("sev", lo + len(body) - len(word))
        for phrase, kind in _COLON_LEADS:
            if body.endswith(phrase):
                return LeadIn(kind, lo + len(body) - len(phrase))
        if _word_end(body, ("pq",), "."):
            return LeadIn("pq", lo + len(body) - 2)
        if _word_end(body, ("error",)):
            return LeadIn("node", lo + len(body) - 5)
        if body.endswith(_CLASS_ENDINGS):
            return LeadIn("exc", lo + len(body.rstrip("abcdefghijklmnopqrstuvwxyz")) - 1)
        return None
    if core.endswith(")") and core[:-1].endswith(_CLASS_ENDINGS):
        return LeadIn("exc", lo + len(core) - 1)
    if core.endswith(("FATAL", "ERROR")) and core[:-5].endswith("server login failed: "):
        return LeadIn("login", lo + len(core) - 26)
    return None


_TRAILER_STATE = re.compile(rf"[ \t]*\((?:SQLSTATE )?({SQLSTATE})\)")
# node-postgres' error printed by util.inspect (`code: '53300',`) or dumped as JSON.
_NODE_STATE = re.compile(rf"\s*code: '({SQLSTATE})'|.*\"code\"\s*:\s*\"({SQLSTATE})\"")
_NEXT_ERROR = re.compile(r"\s*(?:\w+)?[Ee]rror: ")
_JAVA_STATE = re.compile(rf"\b[Ss][Qq][Ll] ?[Ss]tate\b[\"']?\s*[:=]?\s*[\"']?({SQLSTATE})")
_JSON_EVIDENCE = re.compile(
    r'"(?P<key>error_severity|severity|state_code|sql_state_code|sqlstate|code)"'
    rf'[ \t]*:[ \t]*"(?P<value>FATAL|{SQLSTATE})"'
)
_PSYCOPG_ATTEMPT = re.compile(r"- host: .*?, port: .*?, hostaddr: (?:'[^']*'|None): (?P<err>.*)")
_PSYCOPG_HEADER = "Multiple connection attempts failed. All failures were:"
_CLIENT_PTR = re.compile(r"\b[CS]-0x[0-9a-f]+")
_INFERRED_WINDOW = (30, 200)


def _memo(
    ctx: Neighbourhood, key: str, compute: Callable[[Neighbourhood], str | None]
) -> str | None:
    if key not in ctx.memo:
        ctx.memo[key] = compute(ctx)
    value = ctx.memo[key]
    return value if isinstance(value, str) else None


def _node_state(ctx: Neighbourhood) -> str | None:
    """SQLSTATE from node-postgres' printed error object (`code: '53300',`) below the line."""

    def compute(ctx: Neighbourhood) -> str | None:
        for text in ctx.after(40):
            if m := _NODE_STATE.match(text):
                return m[1] or m[2]
            if _NEXT_ERROR.match(text):
                break
        return None

    return _memo(ctx, "node", compute)


def _java_state(ctx: Neighbourhood) -> str | None:
    def compute(ctx: Neighbourhood) -> str | None:
        for text in (ctx.line, *reversed(ctx.before(5)), *ctx.after(5)):
            if m := _JAVA_STATE.search(text):
                return m[1]
        return None

    return _memo(ctx, "java_state", compute)


def _json_context(ctx: Neighbourhood) -> tuple[str, str | None] | None:
    """For a `"message": "..."` field seen raw (a pretty-printed or cut JSON record): whether
    the record reports an error, its format and its SQLSTATE."""
    if "json" not in ctx.memo:
        ctx.memo["json"] = _json_record(ctx)
    found = ctx.memo["json"]
    return found if isinstance(found, tuple) else None


def _json_record(ctx: Neighbourhood) -> tuple[str, str | None] | None:
    window = (*ctx.before(30), ctx.line, *ctx.after(30))
    evidence = [m for t in window for m in _JSON_EVIDENCE.finditer(t)]
    if not evidence:
        return None
    keys = {m["key"] for m in evidence}
    state = next((m["value"] for m in evidence if m["value"] != "FATAL"), None)
    joined = "\n".join(window)
    if "sql_state_code" in keys:
        source = "cloudnativepg"
    elif '"textPayload"' in joined:
        source = "cloud_logging"
    elif "state_code" in keys and "error_severity" in keys:
        source = "jsonlog"
    else:
        source = wrapper(joined) or "json"
    return source, state


def _psycopg_repeat(line: str, ctx: Neighbourhood) -> bool:
    """psycopg 3 repeats the last attempt's error above its list of attempts; count it once."""
    m = _PSYCOPG_ATTEMPT.match(line[:4096])
    if m is None:
        return False
    err = m["err"].rstrip()
    before = ctx.before(30)
    for i in range(len(before) - 1, 0, -1):
        if before[i].strip() == _PSYCOPG_HEADER:
            return before[i - 1].rstrip().endswith(err)
    return False


def _bouncer_repeat(reason: str, ctx: Neighbourhood) -> bool:
    """PgBouncer logs `pooler error: X` then `closing because: X (age=...)` for one event."""
    if "ptr" not in ctx.memo:
        m = _CLIENT_PTR.search(ctx.line)
        ctx.memo["ptr"] = m[0] if m else None
    ptr = ctx.memo["ptr"]
    for prev in ctx.before(3):
        if "pooler error: " + reason in prev and (not isinstance(ptr, str) or ptr in prev):
            return True
    return False


def _hit(
    msg: Message,
    found: Found | None,
    sqlstate: str | None,
    source: str,
    seg: Segment,
    pooler: str | None = None,
) -> Hit:
    name = found.name if found else None
    values = found.values if found else {}
    role = name if msg.kind is SignalKind.ROLE_LIMIT else None
    database = name if msg.kind is SignalKind.DATABASE_LIMIT else None
    if msg.variant == "max_db_client_connections":
        database = seg.fields.get("database") or None
    elif msg.variant == "max_user_client_connections":
        role = seg.fields.get("user") or None
    if msg.detail_format:
        detail: str | None = msg.detail_format.format(**values)
        identity = msg.variant
    elif msg.kind is SignalKind.WALSENDER_LIMIT:
        detail = identity = values.get("n")
    else:
        detail = identity = msg.variant
    return Hit(msg.kind, role, database, sqlstate, source, detail, identity, pooler or msg.pooler)


# An asyncio timeout as Python prints the exception line of a traceback.
_TIMEOUT_LINE = re.compile(
    r"\s*(?:asyncio\.(?:exceptions\.)?|concurrent\.futures\._base\.)?TimeoutError\b"
)
# RDS Proxy for MySQL prints the same borrow timeout as error 9501: not PostgreSQL's.
_MYSQL_PROXY = re.compile(r"\b9501\b|\bMySQL\b", re.IGNORECASE)


def _asyncpg_timeout(ctx: Neighbourhood) -> bool:
    """asyncpg's pool raises a bare TimeoutError: the traceback frame of `Pool._acquire` counts
    only when the exception line that ends the traceback is a TimeoutError."""
    for text in ctx.after(20):
        if text.startswith((" ", "\t")):
            continue
        return _TIMEOUT_LINE.match(text) is not None
    return False


def _library_hits(
    msg: Message, found: Found, seg: Segment, ctx: Neighbourhood, text: str = ""
) -> list[Hit]:
    if msg.variant == "asyncpg" and not _asyncpg_timeout(ctx):
        return []
    if msg.pooler == "rds_proxy" and _MYSQL_PROXY.search(text or ctx.line):
        return []
    if msg.producer != "hikaricp":
        return [_hit(msg, found, msg.sqlstate, msg.producer, seg)]
    # HikariCP copies the SQLSTATE of the last failed connection attempt into its timeout.
    state = seg.sqlstate or _java_state(ctx)
    hits = [_hit(msg, found, state, msg.producer, seg)]
    if state in (LIMIT_SQLSTATE, NOT_READY_SQLSTATE) and not ctx.server_message_near(
        *_INFERRED_WINDOW
    ):
        # The refusal itself is not quoted anywhere near: report what its SQLSTATE says.
        kind = (
            SignalKind.MAX_CONNECTIONS if state == LIMIT_SQLSTATE else SignalKind.SERVER_NOT_READY
        )
        hits.append(
            Hit(
                kind, None, None, state, msg.producer, f"inferred from SQLSTATE {state}", "inferred"
            )
        )
    return hits


def _cached_inner(text: str, pos: int) -> tuple[Message, Found | None] | None:
    """The server error PgBouncer 1.24+ wraps, possibly cut by its 128-byte buffer."""
    best: tuple[Matcher, Found] | None = None
    for mt in _SERVER_MATCHERS:
        f = mt.match(text, pos)
        if f is not None and (best is None or f.end > best[1].end):
            best = (mt, f)
    if best is not None:
        return best[0].message, best[1]
    inner = text[pos : pos + 256].split(" (server_login_retry)", 1)[0].rstrip()
    for mt in _SERVER_MATCHERS:
        if mt.prefix_of(inner):
            return mt.message, None
    return None


def _scan_segment(seg: Segment, ids: frozenset[int], ctx: Neighbourhood) -> list[Hit]:
    text = seg.text
    order = sorted(ids)
    first = len(text) - len(text.lstrip())
    # Candidate starts of each anchored message, from where its needle occurs.
    at: dict[int, list[Matcher]] = {}
    for i in order:
        if not MESSAGES[i].anywhere:
            for pos in MATCHERS[i].starts(text):
                at.setdefault(pos, []).append(MATCHERS[i])
    hits: list[Hit] = []
    lines: _Lines | None = None
    loose_left = _LOOSE_PER_SEGMENT
    for pos in sorted(at):
        lead = _leadin(text, pos)
        if lead is None and not (seg.structured and pos == first):
            if loose_left == 0:
                continue
            loose_left -= 1
        if lead is not None and lead.kind == "cached":
            continue  # reported with the PgBouncer message that wraps it
        best: tuple[Matcher, Found] | None = None
        for mt in at[pos]:
            f = mt.match(text, pos)
            if f is None or (mt.message.strict_end and not TRAILER.match(text, f.end)):
                continue
            if best is None or f.end > best[1].end:
                best = (mt, f)
        if best is None:
            continue
        msg, f = best[0].message, best[1]
        if lead is None and not (seg.structured and pos == first):
            lines = lines or _Lines(text)
            found = _loose(seg, text, pos, msg, f, ctx, lines)
        else:
            found = _report(seg, text, pos, lead, lead.kind if lead else "field", msg, f, ctx)
        hits.extend(found)
        if found and msg is MESSAGES[CACHED_ERROR]:
            hits.extend(_cached(seg, text, f.end, found[0].source))
    for i in order:
        msg = MESSAGES[i]
        if msg.anywhere:
            for f in MATCHERS[i].finditer(text):
                hits.extend(_library_hits(msg, f, seg, ctx, text))
    return hits


def _cached(seg: Segment, text: str, end: int, source: str) -> list[Hit]:
    """The server error inside PgBouncer's `cached error: <error> (server_login_retry)`, reported
    by the same producer as PgBouncer's message and with the server message's own SQLSTATE."""
    pos = end + len(text[end : end + 8]) - len(text[end : end + 8].lstrip(" "))
    inner = _cached_inner(text, pos)
    if inner is None:
        return []
    msg, found = inner
    return [_hit(msg, found, msg.sqlstate, source, seg)]


def _report(
    seg: Segment,
    text: str,
    pos: int,
    lead: LeadIn | None,
    kind: str,
    msg: Message,
    found: Found,
    ctx: Neighbourhood,
) -> list[Hit]:
    """The hit for `msg` matched at `pos` after `lead` (None: at the start of the text), or
    nothing if the context does not make it a report."""
    if msg.kind is SignalKind.APP_POOL_TIMEOUT:
        return [] if kind == "json" else _library_hits(msg, found, seg, ctx)
    if msg.variant == _PGPOOL_OWN and kind == "json" and _json_context(ctx) is None:
        return []

    closing = kind == "bouncer" and lead is not None and text.startswith("closing", lead.start)
    if closing and _bouncer_repeat(text[pos : found.end], ctx):
        return []

    # The SQLSTATE the text carries, if any.
    state_end = found.end
    if msg is MESSAGES[CACHED_ERROR]:
        retry = text.find("(server_login_retry)", found.end, found.end + 200)
        state_end = retry + len("(server_login_retry)") if retry >= 0 else found.end
    if lead is not None and lead.vstate:
        carried: str | None = lead.vstate
    elif m := _TRAILER_STATE.match(text, state_end):
        carried = m[1]
    else:
        carried = seg.sqlstate

    if kind == "json":
        record = _json_context(ctx)
        if record is None:
            return []
        source, jstate = record
        return [_hit(msg, found, carried or jstate or msg.sqlstate, source, seg)]

    if lead is None:  # the start of a structured record's message field
        source = seg.source or "json"
    else:
        start = lead.start
        before = text[:start] if start < 500 else text[:80] + "\n" + text[start - 400 : start]
        source = source_for(seg, before, text[start:pos], kind == "sev", ctx)
    if carried is None and source == "node-postgres":
        carried = _node_state(ctx)
    return [_hit(msg, found, carried or msg.sqlstate, source, seg)]


# --- A message with no lead-in: where it stands and what surrounds it decide. --------------

_PGPOOL_OWN = "pgpool num_init_children - reserved_connections"
_CANNOT_TELL = "capital S: Pgpool-II's own limit or a server's refusal, cannot tell"
# What may precede a message at the start of its line (list, quote, table, emphasis marks).
_PREFIX_OK = re.compile(r"""[\s>*_~+#|`'"“‘「『«•·-]*(?:\d{1,3}[.)]\s+)?[\s*_`'"“‘「『«]*\Z""")
# What may follow a message that stands alone: punctuation, closing marks, an SQLSTATE.
_REST_OK = re.compile(
    r"""[\s.!,;:…*_~`'"”’」』»)\]|]*(?:\((?:SQLSTATE\ )?[0-9A-Z]{5}\)[\s.`'"|]*)?\Z""", re.VERBOSE
)
_QUOTES = {"`": "`", '"': '"', "'": "'", "“": "”", "‘": "’", "「": "」", "『": "』", "«": "»"}
# A quotation inside code or a query (`message = '...'`, `LIKE '...'`, `grep '...'`).
_CODE_BEFORE = re.compile(
    r"(?:[=~(\[{,%+]|\b(?:LIKE|ILIKE|like|ilike|IN|in|SIMILAR TO|grep(?:\s+-\w+)*|rg|ag|echo"
    r"|includes|contains|startswith|startsWith|endswith|match|search|assert\w*|expect|raise"
    r"|throw|return|new \w+))\s*\Z"
)
_CODE_LINE = re.compile(r"\b(?:SELECT|WHERE|INSERT INTO|UPDATE|DELETE FROM)\b")
# Shapes of drivers that print the server's fields without a severity label before the
# message; each names its producer (see _shape).
_NUL = r"(?:\x00|\\0|\\x00|\\u\{0\}|\\u0000|\^@)"
_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Pgpool-II's log of a backend's error (pgpool2 src/protocol/pool_proto_modules.c).
    ("pgpool", re.compile(r"error message from (?:main|master|\d+ th) backend: ?\Z")),
    # Raw ErrorResponse bytes (`SFATAL\0VFATAL\0C53300\0M...`), as Rust/Go print a buffer.
    ("raw", re.compile(_NUL + r"M\Z")),
    # Npgsql's PostgresException.Message: `53300: sorry, ...` (src/Npgsql/PostgresException.cs).
    ("state", re.compile(rf"(?<![\w.:-])(?P<state>{SQLSTATE}): \Z")),
    # Postgrex.Error.message/1 (`FATAL 53300 (too_many_connections) ...`) and other pools'
    # `FATAL 53300 ...` without colons.
    (
        "sev_state",
        re.compile(rf"\b(?:FATAL|ERROR|PANIC) (?P<state>{SQLSTATE}) (?:\((?P<name>[a-z_]+)\) )?\Z"),
    ),
    # epgsql's error record as a tuple: `{error,fatal,<<"53300">>,too_many_connections,<<"`.
    ("epgsql", re.compile(r'<<"\Z')),
    # A message field of a printed structure: Postgrex/tokio-postgres/pgx structs, R2DBC's
    # field map (`MESSAGE=`) and its Field list (`type=MESSAGE, value='`).
    (
        "field",
        re.compile(
            r"""(?:\b(?:[Mm]essage|MESSAGE)\s*(?:[:=]|=>)\s*\\?["']?|type=MESSAGE,\ value=')\Z""",
            re.VERBOSE,
        ),
    ),
)
_SHAPE_REACH = 120
# Messages without a lead-in looked at per segment: a real line holds a few; a line of
# thousands is garbage that must not cost quadratic time.
_LOOSE_PER_SEGMENT = 64
# Severity and SQLSTATE fields of a printed error structure.
_FIELD_SEVERITY = re.compile(
    r"""(?:\b(?:severity|Severity|SEVERITY\w*|severity_local)\b["']?\s*(?:[:=]|=>)\s*\\?["']?"""
    r"""|type=SEVERITY_\w+,\ value='|\{error,|\bS)(?:FATAL|ERROR|PANIC|fatal|error)\b""",
    re.VERBOSE,
)
_FIELD_STATE = re.compile(
    r"""(?:\b(?:pg_code|code|Code|CODE|sqlstate|sqlState|SQLSTATE|sql_state)\b["']?\s*"""
    r"""(?:[:=]|=>)\s*\\?["']?|SqlState\((?:Inner::)?E|<<"|type=CODE,\ value='"""
    rf"""|{_NUL}C)(?P<state>{SQLSTATE})""",
    re.VERBOSE,
)
_FIELD_SOURCES = (
    ("postgrex", ("Postgrex", "pg_code")),
    ("tokio-postgres", ("DbError", "SqlState(")),
    ("r2dbc", ("SEVERITY_LOCALIZED", "R2dbc", "r2dbc")),
    ("pgx", ("PgError",)),
)


_BREAK = re.compile(r"\n|\\n")


class _Lines:
    """Where the logical lines of a segment's text start and end: real newlines and escaped
    `\\n` (a trace inside a JSON string seen raw) both end one. Computed once per segment."""

    __slots__ = ("_ends", "_starts", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0]
        self._ends: list[int] = []
        for m in _BREAK.finditer(text):
            self._ends.append(m.start())
            self._starts.append(m.end())
        self._ends.append(len(text))

    def bounds(self, pos: int, end: int) -> tuple[int, int]:
        start = self._starts[bisect.bisect_right(self._starts, pos) - 1]
        stop = self._ends[bisect.bisect_left(self._ends, end)]
        return start, stop


def _family(msg: Message) -> str | None:
    return msg.sqlstate


def _field_evidence(ctx: Neighbourhood, text: str) -> tuple[str | None, bool, str]:
    """The SQLSTATE and whether a severity field is printed in a structure around the message
    (this line and a few around it), and everything looked at."""
    window = "\n".join((*ctx.before(3), text, *ctx.after(12)))
    m = _FIELD_STATE.search(window)
    return (m["state"] if m else None), _FIELD_SEVERITY.search(window) is not None, window


def _field_source(window: str) -> str | None:
    for name, hints in _FIELD_SOURCES:
        if any(h in window for h in hints):
            return name
    return None


def _shape(text: str, pos: int) -> tuple[str, re.Match[str]] | None:
    window = text[max(0, pos - _SHAPE_REACH) : pos]
    for name, rx in _SHAPES:
        if m := rx.search(window):
            return name, m
    return None


def _code_quote(text: str, open_at: int, line_start: int) -> bool:
    before = text[line_start:open_at]
    return _CODE_BEFORE.search(before) is not None or _CODE_LINE.search(before) is not None


def _loose(
    seg: Segment,
    text: str,
    pos: int,
    msg: Message,
    found: Found,
    ctx: Neighbourhood,
    lines: _Lines,
) -> list[Hit]:
    """A message at `pos` that no lead-in reports: a driver's structure around it, a line of
    its own, a quotation or `something: ` before it make it a signal; prose does not."""
    if msg.kind is SignalKind.APP_POOL_TIMEOUT:
        return []  # pg-pool's wording alone is too common in prose
    capital = msg.variant == _PGPOOL_OWN
    shape = _shape(text, pos)
    if shape is not None:
        name, m = shape
        if name == "pgpool":
            return [_hit(msg, found, msg.sqlstate, "pgpool", seg, "pgpool")]
        if name == "raw":
            raw = re.search(_NUL + rf"C({SQLSTATE})" + _NUL, text[max(0, pos - 200) : pos])
            return [_hit(msg, found, raw[1] if raw else msg.sqlstate, "tokio-postgres", seg)]
        if name == "state":
            near = " ".join((text[max(0, pos - 300) : pos], *ctx.before(3)))
            source = "npgsql" if "Npgsql" in near or "PostgresException" in near else None
            return [_hit(msg, found, m["state"], source or _plain_source(seg, text, pos, ctx), seg)]
        if name == "sev_state":
            source = "postgrex" if m["name"] else _plain_source(seg, text, pos, ctx)
            return [_hit(msg, found, m["state"], source, seg)]
        state, severity, window = _field_evidence(ctx, text)
        if state is None and not severity:
            return []
        source = "epgsql" if name == "epgsql" else _field_source(window)
        return [
            _hit(
                msg,
                found,
                state or _family(msg),
                source or _plain_source(seg, text, pos, ctx),
                seg,
            )
        ]
    if msg.strict_end:
        return []  # a bare token (`query_wait_timeout`) is as likely a setting as an error
    start, stop = lines.bounds(pos, found.end)
    prefix, rest = text[start:pos], text[found.end : stop]
    trailer = _TRAILER_STATE.match(text, found.end)
    carried = trailer[1] if trailer else seg.sqlstate
    node = _node_state(ctx) if not prefix.strip() else None
    alone = _PREFIX_OK.match(prefix) is not None and _REST_OK.match(rest) is not None
    if not alone and prefix.rstrip().endswith("|"):  # a Markdown or ASCII table cell
        alone = rest.strip().startswith("|") or _REST_OK.match(rest) is not None
    if alone and seg.from_json and (start, stop) == (0, len(text)):
        alone = False  # a JSON value that is only the message, in a record reporting no error
    quoted = False
    # The opening quote, possibly spaced as French typography spaces guillemets.
    open_at = pos - 2 if pos > 1 and text[pos - 1] in " \u00a0\u202f" else pos - 1
    if not alone and open_at >= 0 and (close := _QUOTES.get(text[open_at])):
        after = text[found.end : found.end + 3].lstrip(" \u00a0\u202f.")
        quoted = after.startswith(close) and not _code_quote(text, open_at, start)
    colon = prefix.rstrip(" \t").endswith((":", "\uff1a")) and not _CODE_LINE.search(prefix)
    at_start = _PREFIX_OK.match(prefix) is not None
    if not (alone or quoted or colon or node or (at_start and carried)):
        return []
    if node is not None:
        source = _node_source(ctx)
    elif colon:
        source = _plain_source(seg, text, pos, ctx)
    else:
        source = seg.source or "text"
    state = carried or node
    if capital and not (state or colon):
        # Without a label or an SQLSTATE, a capitalised "Sorry" may be Pgpool-II's or a person's.
        server = MESSAGES[_SERVER_SORRY]
        return [
            Hit(server.kind, None, None, server.sqlstate, source, _CANNOT_TELL, _CANNOT_TELL, None)
        ]
    return [_hit(msg, found, state or _family(msg), source, seg)]


def _plain_source(seg: Segment, text: str, pos: int, ctx: Neighbourhood) -> str:
    if _node_state(ctx) is not None:
        return _node_source(ctx)
    before = text[:pos] if pos < 500 else text[:80] + "\n" + text[pos - 400 : pos]
    return source_for(seg, before, "", False, ctx)


def _node_source(ctx: Neighbourhood) -> str:
    """node-postgres, or postgres.js whose error objects carry `severity_local`."""
    for text in ctx.after(40):
        if "severity_local:" in text:
            return "postgres.js"
        if _NEXT_ERROR.match(text):
            break
    return "node-postgres"


_SERVER_SORRY = next(
    i for i, m in enumerate(MESSAGES) if m.text == "sorry, too many clients already"
)


# Terminal colours: raw ESC, journald's `#033[`, and the escaped forms a JSON log leaves.
_ANSI = re.compile(r"(?:\x1b|#033|\\u001b|\\x1b|\\e|\\033)\[[0-9;]*[A-Za-z]")
_ANSI_HINT = re.compile(r"\x1b\[|#033\[|\\(?:u001b|x1b|e|033)\[")


# --- One error printed twice by the trace that chains it. -----------------------------------

# Python prints the cause first and the exception that wraps it after these lines; Java's
# `Caused by: `, .NET's ` ---> ` and Node's `[cause]: ` come after the outer exception.
_CHAIN_OUTER_AFTER = (
    b"The above exception was the direct cause of the following exception:",
    b"During handling of the above exception, another exception occurred:",
)
_CHAIN_OUTER_BEFORE = (b"Caused by: ", b" ---> ", b"[cause]: ")
CHAIN_REACH = 80


def chain_marker(buf: bytes, end: int, origin: int, since: int) -> bool | None:
    """Whether a chained-exception marker stands in `buf` between absolute offset `since` (the
    end of the previous occurrence's line) and `end` (the end of this line; `origin` is the
    absolute offset of `buf[0]`): True when the outer exception is printed after it (Python),
    False when before it (Java, .NET, Node), None when there is none."""
    raw = buf[max(0, since - origin) : end]
    if any(m in raw for m in _CHAIN_OUTER_AFTER):
        return True
    if any(m in raw for m in _CHAIN_OUTER_BEFORE):
        return False
    return None


def parse_line(ctx: Neighbourhood, ids: frozenset[int]) -> list[Hit]:
    """The signals in one candidate line, `ids` being the messages whose needles it holds.
    A message reported twice in one line (a JSON record's message and its stack) counts once."""
    line = ctx.line
    if _psycopg_repeat(line, ctx):
        return []
    needles = [n for i in ids for n in NEEDLES[i]]
    multiline = not ids.isdisjoint(_MULTILINE_IDS)
    unique: dict[tuple[SignalKind, str | None, str | None, str | None], Hit] = {}
    if "[" in line and _ANSI_HINT.search(line):
        line = _ANSI.sub("", line)
    for seg in segments(line, ctx, needles, multiline):
        for hit in _scan_segment(seg, ids, ctx):
            unique.setdefault(hit.key, hit)
    return list(unique.values())
