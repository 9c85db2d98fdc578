"""Every suggested statement parses as PostgreSQL, whatever the names in it.

Each scenario is triaged twice: with plain names and with hostile ones. Both runs must produce
the same statements, and after the names are swapped for markers their parse trees must be
identical: a name that broke out of its quotes would change the tree. Together the scenarios
must render every SQL template of every playbook at least once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pglast
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.diagnostics.model import SessionFeature, Snapshot
from bot.pgbouncer.model import PoolerSnapshot
from bot.signals.model import Signal, SignalKind
from bot.triage import SuggestedSql, triage
from tests.factories import (
    pool,
    pooler_server,
    pooler_snapshot,
    repo_playbooks,
    session,
    sessions,
    signal,
    snapshot,
)

HOSTILE = [
    'a"b',
    "x; DROP ROLE admin; --",
    "o'brien",
    "back\\slash",
    "ünïcödé_rôle",
    "角色",
    "a" * 63,
    "角" * 21,  # 63 bytes in UTF-8
    "name with spaces",
    "dotted.name",
    "$1 $$ :var",
    "*/ /* --",
]
PLAIN = ("app_user", "appdb", "checkout")
ROLE, DB, APP = "<ROLE>", "<DB>", "<APP>"


@dataclass(frozen=True)
class Names:
    role: str
    database: str
    application: str


Scenario = Callable[
    [Names],
    tuple[Sequence[Signal], Snapshot | None]
    | tuple[Sequence[Signal], Snapshot | None, PoolerSnapshot],
]


def _leak(n: Names, version: int) -> tuple[Sequence[Signal], Snapshot | None]:
    rows = (
        sessions(17, role=n.role, database=n.database, application=n.application, age_s=1800)
        + sessions(2, role=n.role, database=n.database, state="active", age_s=1)
        + [session(role=n.role, database=n.database, state="idle in transaction", age_s=900)]
    )
    snap = snapshot(
        rows,
        role_limits={n.role: 20},
        database_limits={n.database: 20},
        version=version,
        max_connections=24,
        can_use_reserved=False,
    )
    return [signal("role_limit", role=n.role, count=2)], snap


def _paste_only(kind: SignalKind) -> Scenario:
    def build(n: Names) -> tuple[Sequence[Signal], Snapshot | None]:
        return [signal(kind, role=n.role, database=n.database, detail=n.application)], None

    return build


def _live_signal(kind: SignalKind) -> Scenario:
    def build(n: Names) -> tuple[Sequence[Signal], Snapshot | None]:
        snap = snapshot(
            sessions(3, role=n.role, database=n.database, state="active"),
            role_limits={n.role: 20},
            database_limits={n.database: 50},
        )
        return [signal(kind, role=n.role, database=n.database, detail=n.application)], snap

    return build


def _limits_with_room(n: Names) -> tuple[Sequence[Signal], Snapshot | None]:
    rows = sessions(20, role=n.role, database=n.database, state="active")
    return [], snapshot(rows, role_limits={n.role: 20}, database_limits={n.database: 20})


def _server_full(n: Names) -> tuple[Sequence[Signal], Snapshot | None]:
    rows = sessions(19, role=n.role, database=n.database, application=n.application)
    return [], snapshot(rows, max_connections=20, oldest_listed=50, can_use_reserved=False)


def _pooler(kind: str) -> Scenario:
    """PgBouncer in front: the pool's user and database carry the names."""

    def build(
        n: Names,
    ) -> tuple[Sequence[Signal], Snapshot | None, PoolerSnapshot]:
        db, role = n.database, n.role
        rows = sessions(10, role=role, database=db, state="active", application=n.application)
        features: list[SessionFeature] = []
        if kind == "login":
            rows += sessions(9, role="other", database=db, state="active")
            snap = snapshot(rows, role_limits={role: 30}, max_connections=20)
            bouncer = pooler_snapshot([pool(db, role, cl_active=2, cl_waiting=3, sv_active=5)])
        elif kind == "limit":
            snap = snapshot(rows, role_limits={role: 30})
            bouncer = pooler_snapshot(
                [pool(db, role, cl_active=10, cl_waiting=4, sv_active=10, maxwait_s=9)],
                db_max_connections=10,
            )
        elif kind == "state":
            features = [SessionFeature(rows[0].pid, role, db, "listen", "orders")]
            snap = snapshot(rows, role_limits={role: 30}, session_features=features)
            bouncer = pooler_snapshot(
                [pool(db, role, cl_active=2, sv_idle=1)],
                servers=[pooler_server(rows[0].pid, role, db)],
            )
        else:
            snap = snapshot(rows, role_limits={role: 30})
            waiting = 4 if kind == "waiting" else 0
            bouncer = pooler_snapshot(
                [pool(db, role, cl_active=20, cl_waiting=waiting, sv_active=20, maxwait_s=9)],
                used_clients=100,
            )
        return [], snap, bouncer

    return build


def _server_near(n: Names) -> tuple[Sequence[Signal], Snapshot | None]:
    rows = sessions(16, role=n.role, database=n.database, application=n.application)
    return [], snapshot(rows, max_connections=23, oldest_listed=50)


SCENARIOS: dict[str, Scenario] = {
    **{f"pooler-{k}": _pooler(k) for k in ("login", "limit", "state", "waiting", "full")},
    "leak-pg16": lambda n: _leak(n, 160002),
    "leak-pg13": lambda n: _leak(n, 130012),
    "server-full": _server_full,
    "server-near": _server_near,
    "limits-with-room": _limits_with_room,
    **{f"paste-{k.value}": _paste_only(k) for k in SignalKind},
    **{f"live-{k.value}": _live_signal(k) for k in SignalKind},
}


def _statements(names: Names, scenario: Scenario) -> list[tuple[str, SuggestedSql]]:
    signals, snap, *rest = scenario(names)
    report = triage(
        signals, snap, cluster="prod", playbooks=repo_playbooks(), pooler=rest[0] if rest else None
    )
    assert not [n for n in report.notes if "failed to render" in n]
    return [
        (f.playbook.playbook, s)
        for f in report.findings
        if f.playbook is not None
        for s in f.playbook.sql
    ]


_POSITIONS = {"location", "stmt_location", "stmt_len", "rexpr_list_start", "rexpr_list_end"}


def _tree(statement: str, markers: dict[str, str]) -> object:
    """The parse tree as plain data, names replaced by markers and source positions dropped."""
    parsed = pglast.parse_sql(statement)
    assert len(parsed) == 1, statement

    def plain(node: object) -> object:
        if isinstance(node, dict):
            return {k: plain(v) for k, v in node.items() if k not in _POSITIONS}
        if isinstance(node, list | tuple):
            return [plain(v) for v in node]
        if isinstance(node, str):
            return markers.get(node, node)
        return node

    return plain(parsed[0](skip_none=True))


def _count(tree: object, marker: str) -> int:
    if isinstance(tree, dict):
        return sum(_count(v, marker) for v in tree.values())
    if isinstance(tree, list):
        return sum(_count(v, marker) for v in tree)
    return int(tree == marker)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_hostile_names_stay_quoted(name: str, hostile: str) -> None:
    scenario = SCENARIOS[name]
    plain = Names(*PLAIN)
    # A different database name of the same length: names never exceed 63 bytes.
    evil = Names(hostile, hostile[:-1] + "#", f"app {hostile}")
    plain_sql = _statements(plain, scenario)
    evil_sql = _statements(evil, scenario)
    assert [p for p, _ in plain_sql] == [p for p, _ in evil_sql]
    assert plain_sql, "the scenario produces SQL"
    for (_, a), (_, b) in zip(plain_sql, evil_sql, strict=True):
        assert a.destructive == b.destructive
        plain_tree = _tree(a.statement, {plain.role: ROLE, plain.database: DB})
        evil_tree = _tree(b.statement, {evil.role: ROLE, evil.database: DB})
        assert evil_tree == plain_tree, b.statement
        # The name is in the tree exactly where the plain one is: as one string node.
        for marker, value in ((ROLE, evil.role), (DB, evil.database)):
            if _count(plain_tree, marker):
                assert _count(evil_tree, marker) == _count(plain_tree, marker)
                assert value not in a.statement


def test_every_sql_template_is_exercised() -> None:
    """The scenarios above reach every statement of every playbook, so all are checked."""
    seen: dict[str, set[str]] = defaultdict(set)
    for scenario in SCENARIOS.values():
        for playbook, s in _statements(Names(*PLAIN), scenario):
            seen[playbook].add(s.purpose)
    for playbook in repo_playbooks():
        assert len(seen[playbook.id]) == len(playbook.sql), playbook.id


def test_destructive_statements_are_marked() -> None:
    for scenario in SCENARIOS.values():
        for _, s in _statements(Names(*PLAIN), scenario):
            ends_sessions = "pg_terminate_backend" in s.statement
            assert s.destructive == ends_sessions, s.statement


# PostgreSQL's grammar refuses these as role names even quoted, so no such role can exist.
RESERVED_ROLE_NAMES = {"none", "public"}


@settings(max_examples=150, deadline=None)
@given(
    role=st.text(min_size=1, max_size=63).filter(
        lambda s: (
            "\x00" not in s
            and len(s.encode()) <= 63
            and s not in PLAIN
            and s not in RESERVED_ROLE_NAMES
        )
    )
)
def test_any_role_name_stays_quoted(role: str) -> None:
    for scenario in (SCENARIOS["leak-pg16"], SCENARIOS["paste-role_limit"]):
        plain_sql = _statements(Names(*PLAIN), scenario)
        # A name equal to a word of the statements (an operator, 'idle') cannot be told apart.
        assume(not any(_count(_tree(a.statement, {}), role) for _, a in plain_sql))
        any_sql = _statements(Names(role, PLAIN[1], PLAIN[2]), scenario)
        for (_, a), (_, b) in zip(plain_sql, any_sql, strict=True):
            markers = {PLAIN[1]: DB}
            assert _tree(b.statement, {**markers, role: ROLE}) == _tree(
                a.statement, {**markers, PLAIN[0]: ROLE}
            ), b.statement
