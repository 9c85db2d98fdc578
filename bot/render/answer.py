"""What every renderer says the same way: the fixes in the order to try them, each named for
what it does with the one statement it stands for; who holds the slots; the prevention advice
merged across findings; and what a paste contained, in the words the user pasted.

Pure functions over the Report. Identifiers and values in statements are quoted by psycopg.sql,
never by string formatting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psycopg import sql

from bot.diagnostics.model import Session, Snapshot
from bot.signals.model import Signal, SignalKind
from bot.triage.model import ActionKind, Finding, ProposedAction, Report
from bot.triage.units import human_duration, pg_interval

MAX_LABEL = 75  # Slack's limit for a button's text
_PLACEHOLDER = re.compile(r"<([a-z][a-z0-9 _.-]{0,39})(?::[^<>]*)?>")

# Fixes that free slots now come first: raising a limit while a leak holds it only feeds the
# leak; a timeout prevents the next one.
_ORDER = {
    ActionKind.TERMINATE: 0,
    ActionKind.CANCEL: 1,
    ActionKind.SET_ROLE_CONN_LIMIT: 2,
    ActionKind.SET_DATABASE_CONN_LIMIT: 2,
    ActionKind.SET_ROLE_IDLE_TX_TIMEOUT: 3,
}
_STATE_WORD = {"idle in transaction": "idle-in-transaction"}

_KIND_WORDS = {
    SignalKind.ROLE_LIMIT: "a role out of connections",
    SignalKind.DATABASE_LIMIT: "a database out of connections",
    SignalKind.MAX_CONNECTIONS: "the server out of connection slots",
    SignalKind.RESERVED_SLOTS: "only reserved slots left",
    SignalKind.WALSENDER_LIMIT: "no WAL sender slot left",
    SignalKind.POOLER_CLIENT_LIMIT: "a pooler refusing clients",
    SignalKind.POOLER_WAIT_TIMEOUT: "a pooler wait timeout",
    SignalKind.APP_POOL_TIMEOUT: "an application pool timeout",
    SignalKind.SERVER_NOT_READY: "a server not accepting connections yet",
}


def plural(n: int, one: str, many: str | None = None) -> str:
    """`1 session`, `5 sessions`."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


_COUNTED = re.compile(r"\b(\d+)(\D{0,40}?)\b([A-Za-z]+)\(s\)")
_UNCOUNTED = re.compile(r"\b([A-Za-z]+)\(s\)")


def plain_words(text: str) -> str:
    """Prose as people read it: template placeholders (`<role>`, `<new limit: …>`) as words
    ("the role", "the new limit") and "(s)" plurals agreed with their number ("1 session",
    "91 ordinary slots")."""
    text = _PLACEHOLDER.sub(lambda m: f"the {m.group(1).strip()}", text)
    text = _COUNTED.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{'' if m.group(1) == '1' else 's'}", text
    )
    return _UNCOUNTED.sub(lambda m: f"{m.group(1)}s", text)


def kind_words(kind: SignalKind) -> str:
    return _KIND_WORDS.get(kind, "a connection error")


def paste_quote(sig: Signal) -> str:
    """`too many connections for role "app_user"`, libpq, line 2 (3 times): what the user pasted,
    as they wrote it (the caller formats the quote)."""
    times = f" ({plural(sig.count, 'time')})" if sig.count > 1 else ""
    return f"{sig.source}, line {sig.first_line}{times}"


def signal_key(sig: Signal) -> str:
    """What makes two signals the same news."""
    return f"{sig.kind.value}|{sig.role or ''}|{sig.database or ''}|{sig.detail or ''}"


_SEVERITY_MARK = re.compile(r"\b(?:FATAL|ERROR|PANIC):\s+")


def paste_excerpt(sig: Signal, limit: int = 160) -> str:
    """The pasted line as the user wrote it, from the server's message on (what a client
    wraps around it is left out), without backticks (they would end the quote)."""
    text = " ".join((sig.excerpt or kind_words(sig.kind)).replace("`", "").split())
    marks = list(_SEVERITY_MARK.finditer(text))
    if marks and marks[-1].end() < len(text):
        text = text[marks[-1].end() :]
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- fixes ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fix:
    """A proposed action as people see it: where it came from, its button label, what it
    matches right now, and the one statement it stands for (None when it cannot be shown)."""

    finding_index: int
    action_index: int
    finding: Finding
    action: ProposedAction
    label: str
    matches: str
    statement: str | None

    @property
    def destructive(self) -> bool:
        return self.action.kind in (ActionKind.TERMINATE, ActionKind.CANCEL)


def fixes(report: Report) -> list[Fix]:
    """Every proposed fix once, those that free slots now first, then in finding order."""
    seen: set[tuple[str, str]] = set()
    found: list[tuple[int, int, int, int, Fix]] = []
    for fi, finding in enumerate(report.findings):
        for ai, action in enumerate(finding.actions):
            key = (action.kind.value, repr(sorted((k, str(v)) for k, v in action.params.items())))
            if key in seen:
                continue
            seen.add(key)
            fix = Fix(
                fi,
                ai,
                finding,
                action,
                label(action, report.snapshot),
                matches(action, report.snapshot),
                statement(action),
            )
            # Among fixes of one kind, the one that touches most sessions first.
            found.append((_ORDER.get(action.kind, 9), -(_count(action) or 0), fi, ai, fix))
    return [f for *_, f in sorted(found, key=lambda t: t[:4])]


def _short(name: str, room: int) -> str:
    return name if len(name) <= room else name[: max(room - 1, 1)] + "…"


def _targets(action: ProposedAction, snapshot: Snapshot | None) -> list[Session]:
    pids = action.params.get("pids")
    if snapshot is None or not isinstance(pids, list):
        return []
    wanted = set(pids)
    listed = (*snapshot.oldest_idle, *snapshot.oldest_idle_in_transaction)
    by_pid = {s.pid: s for s in listed if s.pid in wanted}
    return list(by_pid.values())


def _count(action: ProposedAction) -> int | None:
    pids = action.params.get("pids")
    return len(pids) if isinstance(pids, list) else None


def label(action: ProposedAction, snapshot: Snapshot | None = None) -> str:
    """The button's text, named for what it does: `Terminate 5 idle sessions of checkout`."""
    p = action.params
    role = str(p.get("role", ""))
    if action.kind in (ActionKind.TERMINATE, ActionKind.CANCEL):
        state = str(p.get("state", ""))
        word = _STATE_WORD.get(state, state)
        apps = {s.application for s in _targets(action, snapshot)}
        owner = apps.pop() if len(apps) == 1 and "" not in apps else role
        n = _count(action)
        what = (
            f"{plural(n, f'{word} session')}".strip() if n is not None else f"{word} sessions"
        ).replace("  ", " ")
        verb = "Cancel the queries of" if action.kind is ActionKind.CANCEL else "Terminate"
        head = f"{verb} {what} of "
        return head + _short(owner, MAX_LABEL - len(head))
    if action.kind in (ActionKind.SET_ROLE_CONN_LIMIT, ActionKind.SET_DATABASE_CONN_LIMIT):
        name = str(p.get("role") or p.get("database") or "")
        tail = f"'s limit {p.get('current_limit')} → {p.get('limit')}"
        head = "Raise " if action.kind is ActionKind.SET_ROLE_CONN_LIMIT else "Raise database "
        return head + _short(name, MAX_LABEL - len(head) - len(tail)) + tail
    if action.kind is ActionKind.SET_ROLE_IDLE_TX_TIMEOUT:
        head, tail = "Time out ", f"'s idle transactions after {p.get('timeout')}"
        return head + _short(role, MAX_LABEL - len(head) - len(tail)) + tail
    return _short(action.title, MAX_LABEL)


def holders_text(sessions: Iterable[Session]) -> list[str]:
    """`checkout · 10.0.3.4 · idle 3–25 min ×5`, largest group first."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for s in sessions:
        key = (s.application or "no application name", s.client, s.state or "state hidden")
        groups.setdefault(key, []).append(s.state_age_s or 0.0)
    out = []
    for (app, client, state), ages in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        low, high = human_duration(min(ages)), human_duration(max(ages))
        span = low if low == high else f"{low}–{high}"
        out.append(f"{app} · {client} · {state} {span} ×{len(ages)}")
    return out


def matches(action: ProposedAction, snapshot: Snapshot | None) -> str:
    """What the fix touches right now, in one line."""
    p = action.params
    if action.kind in (ActionKind.TERMINATE, ActionKind.CANCEL):
        n = _count(action)
        targets = _targets(action, snapshot)
        who = f": {'; '.join(holders_text(targets)[:2])}" if targets else ""
        frees = (
            f" Frees {plural(n, 'slot')}; open transactions are rolled back."
            if n and action.kind is ActionKind.TERMINATE
            else " Frees no slot; the sessions stay connected."
            if action.kind is ActionKind.CANCEL
            else ""
        )
        count = plural(n, "session") if n is not None else "The sessions"
        return f"Matches {count} right now{who}.{frees}"
    if action.kind in (ActionKind.SET_ROLE_CONN_LIMIT, ActionKind.SET_DATABASE_CONN_LIMIT):
        before, after = p.get("current_limit"), p.get("limit")
        more = after - before if isinstance(after, int) and isinstance(before, int) else None
        lets = f"Lets {plural(more, 'more connection')} in; " if more else ""
        return f"{lets}frees no slot and ends no session."
    if action.kind is ActionKind.SET_ROLE_IDLE_TX_TIMEOUT:
        return (
            f"New sessions of {p.get('role')} idle in a transaction for {p.get('timeout')} are "
            "ended; frees nothing now, keeps it from happening again."
        )
    return action.summary


def _terminate(action: ProposedAction) -> sql.Composable:
    p = action.params
    fn = "pg_cancel_backend" if action.kind is ActionKind.CANCEL else "pg_terminate_backend"
    where: list[sql.Composable] = [sql.SQL("usename = {}").format(sql.Literal(str(p["role"])))]
    if p.get("state"):
        where.append(sql.SQL("state = {}").format(sql.Literal(str(p["state"]))))
    age = p.get("min_age_s")
    if isinstance(age, int) and age > 0:
        where.append(
            sql.SQL("state_change < now() - {}::interval").format(sql.Literal(pg_interval(age)))
        )
    where.append(sql.SQL("pid <> pg_backend_pid()"))
    return sql.SQL("SELECT pid, {}(pid)\nFROM pg_stat_activity\nWHERE {};").format(
        sql.SQL(fn), sql.SQL("\n  AND ").join(where)
    )


def statement(action: ProposedAction) -> str | None:
    """The plain statement a fix stands for, or None when a value it needs is missing."""
    p = action.params
    try:
        if action.kind in (ActionKind.TERMINATE, ActionKind.CANCEL):
            composed = _terminate(action)
        elif action.kind is ActionKind.SET_ROLE_CONN_LIMIT:
            composed = sql.SQL("ALTER ROLE {} CONNECTION LIMIT {};").format(
                sql.Identifier(str(p["role"])), sql.Literal(int(str(p["limit"])))
            )
        elif action.kind is ActionKind.SET_DATABASE_CONN_LIMIT:
            composed = sql.SQL("ALTER DATABASE {} CONNECTION LIMIT {};").format(
                sql.Identifier(str(p["database"])), sql.Literal(int(str(p["limit"])))
            )
        elif action.kind is ActionKind.SET_ROLE_IDLE_TX_TIMEOUT:
            composed = sql.SQL("ALTER ROLE {} SET {} = {};").format(
                sql.Identifier(str(p["role"])),
                sql.SQL("idle_in_transaction_session_timeout"),
                sql.Literal(str(p["timeout"])),
            )
        else:
            return None
    except (KeyError, ValueError):
        return None
    return composed.as_string(None)


# -- the incident card's facts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fullness:
    """What is full (or nearest to it): `role app_user`, used and limit."""

    kind: str  # "role", "database", "server"
    name: str | None
    used: int
    limit: int

    def what(self) -> str:
        return f"{self.kind} {self.name}" if self.name else "the server"

    def numbers(self) -> str:
        return f"{self.used} / {self.limit}"

    @property
    def has_room(self) -> bool:
        return self.used < self.limit


def fullness(finding: Finding, snapshot: Snapshot | None) -> Fullness | None:
    """The limit the headline finding is about, with its live numbers when they were seen."""
    used, limit = finding.current, finding.limit
    server = finding.role is None and finding.database is None
    if server and snapshot is not None and limit is not None:
        # The server's ordinary slots, as every other line counts them.
        return fullness_now("server", None, snapshot)
    if used is not None and limit is not None:
        if finding.role is not None and finding.database is None:
            return Fullness("role", finding.role, used, limit)
        if finding.database is not None:
            return Fullness("database", finding.database, used, limit)
        return Fullness("server", None, used, limit)
    if snapshot is not None and finding.role is not None:
        r = snapshot.role(finding.role)
        if r is not None and r.conn_limit >= 0:
            return Fullness("role", r.name, r.current, r.conn_limit)
    return None


def fullness_now(kind: str, name: str | None, snapshot: Snapshot) -> Fullness | None:
    """The same limit read from a later snapshot."""
    if kind == "role" and name is not None:
        r = snapshot.role(name)
        return Fullness("role", name, r.current, r.conn_limit) if r and r.conn_limit >= 0 else None
    if kind == "database" and name is not None:
        d = snapshot.database(name)
        return (
            Fullness("database", name, d.current, d.conn_limit) if d and d.conn_limit >= 0 else None
        )
    if kind == "server":
        slots = snapshot.settings.ordinary_slots
        return Fullness("server", None, snapshot.client_backends, slots)
    return None


def holders(finding: Finding, snapshot: Snapshot | None, limit: int = 2) -> list[str]:
    """Who holds the finding's slots: `checkout · 10.0.3.4 · idle ×5 (oldest 25 min)`."""
    if snapshot is None:
        return []
    rows = [
        g
        for g in snapshot.groups
        if (finding.role is None or g.role == finding.role)
        and (finding.database is None or g.database == finding.database)
    ]
    rows.sort(key=lambda g: -g.count)
    out = []
    for g in rows[:limit]:
        age = ""
        if g.oldest_state_change is not None:
            seconds = (snapshot.taken_at - g.oldest_state_change).total_seconds()
            age = f", oldest {human_duration(max(seconds, 0))}"
        app = g.application or "no application name"
        state = g.state or "state hidden"
        who = f"{g.role} · " if finding.role is None and g.role else ""
        out.append(f"{who}{app} · {g.client} · {state} ×{g.count}{age}")
    rest = sum(g.count for g in rows[limit:])
    if rest:
        out.append(f"and {plural(rest, 'more session')}")
    return out


# What prevention advice is about: several playbooks give the same advice in their own words,
# and one report shows it once (the first wording, from the headline's finding, wins).
_TOPICS = (
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "tcp_keepalives",
    "pool_mode",
    "size pool",
    "size the pool",
    "its own role",
    "max_client_conn",
    "default_pool_size",
)
MAX_PREVENT = 8


def prevent(report: Report) -> list[str]:
    """Prevention advice once per report, in finding order: an item whose topics earlier items
    already covered is left out, and so is an exact repeat."""
    seen: set[str] = set()
    covered: set[str] = set()
    out = []
    for f in report.findings:
        for step in f.playbook.prevent if f.playbook else ():
            key = " ".join(step.lower().split())
            topics = {t for t in _TOPICS if t in key}
            if key in seen or (topics and topics <= covered):
                continue
            seen.add(key)
            covered |= topics
            out.append(plain_words(step))
    return out[:MAX_PREVENT]


def withheld(items: Sequence[str]) -> list[str]:
    """Statements left out, said without their placeholders: `Raise app_user's limit (needs
    the new role limit)` becomes `Raise app_user's CONNECTION LIMIT`."""
    return [plain_words(re.sub(r"\s*\(needs <[^<>]*>\)", "", w)) for w in items]
