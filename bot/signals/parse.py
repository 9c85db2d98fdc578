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

import re
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
from bot.signals.template import TRAILER, Found, Matcher, needle


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

    @property
    def key(self) -> tuple[SignalKind, str | None, str | None, str | None]:
        return (self.kind, self.role, self.database, self.identity)


MATCHERS: tuple[Matcher, ...] = tuple(Matcher(m) for m in MESSAGES)
NEEDLES: tuple[str, ...] = tuple(needle(m) for m in MESSAGES)
SERVER_IDS = frozenset(i for i, m in enumerate(MESSAGES) if m.producer == "postgres")
_SERVER_MATCHERS = tuple(MATCHERS[i] for i in sorted(SERVER_IDS))
_MULTILINE_IDS = frozenset(i for i, m in enumerate(MESSAGES) if "\n" in m.text)

_SEVERITIES = "|".join(re.escape(w) for w in sorted((*FATAL_WORDS, "ERROR"), key=len, reverse=True))
_LEADIN = re.compile(
    rf"(?<!\w)(?P<sev>{_SEVERITIES}):[ \t]+(?:(?P<vstate>{SQLSTATE}):[ \t]+)?"
    r"|(?P<pq>(?<![\w.])pq: )"
    r"|(?P<psycopg>connection failed: )"
    r"|(?P<cached>cached error: )"
    r"|(?P<bouncer>(?:pooler error|closing because): )"
    r"|(?P<login>server login failed: (?:FATAL|ERROR) )"
    r"|(?P<node>(?<!\w)error: )"
    r"|(?P<exc>(?:Error|Exception|Bad|Timeout)(?:: |\) ))"
    r'|(?P<json>"(?:message|msg|M)"[ \t]*:[ \t]*")'
)
_LEADIN_KINDS = ("sev", "pq", "psycopg", "cached", "bouncer", "login", "node", "exc", "json")
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


def _node_state(ctx: Neighbourhood) -> str | None:
    """SQLSTATE from node-postgres' printed error object (`code: '53300',`) below the line."""
    for text in ctx.after(40):
        if m := _NODE_STATE.match(text):
            return m[1] or m[2]
        if _NEXT_ERROR.match(text):
            break
    return None


def _java_state(ctx: Neighbourhood) -> str | None:
    for text in (ctx.line, *reversed(ctx.before(5)), *ctx.after(5)):
        if m := _JAVA_STATE.search(text):
            return m[1]
    return None


def _json_context(ctx: Neighbourhood) -> tuple[str, str | None] | None:
    """For a `"message": "..."` field seen raw (a pretty-printed or cut JSON record): whether
    the record reports an error, its format and its SQLSTATE."""
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
    m = _PSYCOPG_ATTEMPT.match(line)
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
    ptr = _CLIENT_PTR.search(ctx.line)
    for prev in ctx.before(3):
        if "pooler error: " + reason in prev and (ptr is None or ptr[0] in prev):
            return True
    return False


def _hit(
    msg: Message,
    found: Found | None,
    sqlstate: str | None,
    source: str,
    seg: Segment,
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
    return Hit(msg.kind, role, database, sqlstate, source, detail, identity)


def _library_hits(msg: Message, found: Found, seg: Segment, ctx: Neighbourhood) -> list[Hit]:
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
    inner = text[pos:].split(" (server_login_retry)", 1)[0].rstrip()
    for mt in _SERVER_MATCHERS:
        if mt.prefix_of(inner):
            return mt.message, None
    return None


def _scan_segment(seg: Segment, ids: frozenset[int], ctx: Neighbourhood) -> list[Hit]:
    text = seg.text
    order = sorted(ids)
    anchored = [MATCHERS[i] for i in order if not MESSAGES[i].anywhere]
    hits: list[Hit] = []
    if anchored or CACHED_ERROR in ids:
        starts: list[tuple[int, re.Match[str] | None]] = [(len(text) - len(text.lstrip()), None)]
        starts.extend((m.end(), m) for m in _LEADIN.finditer(text))
        for pos, lm in starts:
            if lm is None:
                lead = "field" if seg.structured else "bare"
            else:
                lead = next(k for k in _LEADIN_KINDS if lm[k] is not None)
            hits.extend(_anchored(seg, text, pos, lm, lead, anchored, ctx))
    for i in order:
        msg = MESSAGES[i]
        if msg.anywhere:
            for found in MATCHERS[i].finditer(text):
                hits.extend(_library_hits(msg, found, seg, ctx))
    return hits


def _anchored(
    seg: Segment,
    text: str,
    pos: int,
    lm: re.Match[str] | None,
    lead: str,
    anchored: list[Matcher],
    ctx: Neighbourhood,
) -> list[Hit]:
    msg: Message
    found: Found | None
    if lead == "cached":
        inner = _cached_inner(text, pos)
        if inner is None:
            return []
        msg, found = inner
    else:
        best: tuple[Matcher, Found] | None = None
        for mt in anchored:
            f = mt.match(text, pos)
            if f is None or (mt.message.strict_end and not TRAILER.match(text, f.end)):
                continue
            if best is None or f.end > best[1].end:
                best = (mt, f)
        if best is None:
            return []
        msg, found = best[0].message, best[1]
    end = found.end if found else len(text)

    if msg.kind is SignalKind.APP_POOL_TIMEOUT:
        if lead in ("bare", "json") or found is None:
            return []
        return _library_hits(msg, found, seg, ctx)

    closing = lead == "bouncer" and lm is not None and lm.group().startswith("closing")
    if closing and _bouncer_repeat(text[pos:end], ctx):
        return []

    # The SQLSTATE the text carries, if any.
    state_end = end
    if msg is MESSAGES[CACHED_ERROR]:
        retry = text.find("(server_login_retry)", end)
        state_end = retry + len("(server_login_retry)") if retry >= 0 else end
    carried = None
    if lead != "cached":
        if lm is not None and lm["vstate"]:
            carried = lm["vstate"]
        elif m := _TRAILER_STATE.match(text, state_end):
            carried = m[1]
        else:
            carried = seg.sqlstate

    if lead == "bare":
        node = _node_state(ctx)
        if carried is None and node is None:
            return []
        source = "node-postgres" if node is not None else source_for(seg, "", "", False, ctx)
        return [_hit(msg, found, carried or node, source, seg)]
    if lead == "json":
        jctx = _json_context(ctx)
        if jctx is None:
            return []
        source, jstate = jctx
        return [_hit(msg, found, carried or jstate or msg.sqlstate, source, seg)]

    if lm is None:  # the start of a structured message field
        source = source_for(seg, "", "", False, ctx)
    else:
        source = source_for(seg, text[: lm.start()], lm.group(), lead == "sev", ctx)
    if carried is None and source == "node-postgres":
        carried = _node_state(ctx)
    return [_hit(msg, found, carried or msg.sqlstate, source, seg)]


def parse_line(ctx: Neighbourhood, ids: frozenset[int]) -> list[Hit]:
    """The signals in one candidate line, `ids` being the messages whose needles it holds.
    A message reported twice in one line (a JSON record's message and its stack) counts once."""
    line = ctx.line
    if _psycopg_repeat(line, ctx):
        return []
    needles = [NEEDLES[i] for i in ids]
    multiline = not ids.isdisjoint(_MULTILINE_IDS)
    unique: dict[tuple[SignalKind, str | None, str | None, str | None], Hit] = {}
    for seg in segments(line, ctx, needles, multiline):
        for hit in _scan_segment(seg, ids, ctx):
            unique.setdefault(hit.key, hit)
    return list(unique.values())
