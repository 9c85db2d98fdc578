"""The headroom invariants, over thousands of generated snapshots, in every output.

Snapshots cover reserved slots (15's superuser reserve and 16+'s reserved_connections),
pgconn in a reserved slot, limits lowered below what is connected, superuser sessions and
unlimited roles. In the model and in every rendering (text, JSON, Block Kit, `pgconn check`):
used + free = usable, nothing negative, shares that match their numbers, and the server's
figure the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import parse
from bot.diagnostics.model import Snapshot
from bot.headroom import Headroom
from bot.render.blocks import report_messages
from bot.render.json import report_to_dict
from bot.render.text import render_text
from bot.triage import triage
from bot.warnings.check import evaluate
from bot.warnings.model import EntityKind, Level, Probe
from bot.warnings.probe import parse_rows
from bot.warnings.render import WarningView, check_dict, check_text, warning
from bot.warnings.trend import NO_TREND
from tests.factories import repo_playbooks, sessions, snapshot

MONITOR = "pgconn_mon"
CONFIG = parse({"clusters": {"prod": {"dsn": "host=db.internal dbname=postgres"}}}, env={})
# "7 of 26 used (27%), 19 free": the figure every output shows.
FIGURES = re.compile(r"(-?\d+) of (-?\d+) used \((-?\d+)%\), (-?\d+) free")
NEGATIVE = re.compile(r"(?<![\w-])-\d+ (free|slots?|connections?|of)\b")


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    pg16 = draw(st.booleans())
    max_connections = draw(st.integers(2, 40))
    su_reserved = draw(st.integers(0, min(5, max_connections - 1)))
    reserved = draw(st.integers(0, max_connections - 1 - su_reserved)) if pg16 else None
    roles = ["app", "batch", "admin", MONITOR]
    superusers = [r for r in ("admin", MONITOR) if draw(st.booleans())]
    limits = {
        r: lim for r in roles if (lim := draw(st.one_of(st.none(), st.integers(0, 12)))) is not None
    }
    databases = {"shop": draw(st.integers(0, 15))} if draw(st.booleans()) else {}
    rows = []
    own_n = draw(st.integers(1, min(3, max_connections)))
    # Everyone together fits in max_connections, as on a real server.
    budget = max_connections - own_n
    for role in ("app", "batch", "admin"):
        n = draw(st.integers(0, budget))
        budget -= n
        state = draw(st.sampled_from(["idle", "active", "idle in transaction"]))
        db = draw(st.sampled_from(["shop", "other"]))
        rows += sessions(n, role=role, database=db, state=state, age_s=draw(st.integers(1, 3000)))
    own_db = draw(st.sampled_from(["postgres", "shop"]))
    snap = snapshot(
        rows,
        role_limits=limits,
        database_limits=databases,
        superusers=superusers,
        version=160002 if pg16 else 150008,
        monitoring_role=MONITOR,
        monitoring_superuser=MONITOR in superusers,
        can_use_reserved=MONITOR in superusers or draw(st.booleans()),
        max_connections=max_connections,
        superuser_reserved_connections=su_reserved,
        reserved_connections=reserved,
    )
    return replace(snap, own_sessions=tuple((MONITOR, own_db) for _ in range(own_n)))


def _holds(room: Headroom) -> None:
    assert room.used >= 0 and room.over >= 0 and room.own >= 0 and room.reserved >= 0
    assert 0 <= room.own_reserved <= room.own
    if room.usable is None:
        assert room.free is None
        return
    assert room.usable >= 0 and room.free is not None and room.free >= 0
    assert room.used + room.free == room.usable
    assert room.used + room.over == room.sessions
    assert room.share == (room.used / room.usable if room.usable else 1.0)
    assert room.percent == round(room.share * 100)


def _figures_add_up(text: str) -> list[tuple[int, int, int, int]]:
    found = [tuple(int(x) for x in m.groups()) for m in FIGURES.finditer(text)]
    for used, usable, percent, free in found:
        assert min(used, usable, percent, free) >= 0, text
        assert used + free == usable, text
        assert percent == (round(used * 100 / usable) if usable else 100), text
    assert not NEGATIVE.search(text), NEGATIVE.search(text)
    return found  # type: ignore[return-value]


def _dicts_add_up(value: Any) -> None:
    """Every headroom dict anywhere in a JSON document holds the invariants."""
    if isinstance(value, dict):
        if {"usable", "used", "free", "share"} <= value.keys() and value["usable"] is not None:
            assert value["used"] + value["free"] == value["usable"]
            assert min(value["used"], value["free"], value["usable"]) >= 0
        for v in value.values():
            _dicts_add_up(v)
    elif isinstance(value, list):
        for v in value:
            _dicts_add_up(v)


def _probe_rows(snap: Snapshot) -> list[tuple[Any, ...]]:
    """What probe.sql returns for this snapshot: others' sessions and pgconn's apart."""
    s = snap.settings
    rows: list[tuple[Any, ...]] = [
        (
            "server",
            "",
            s.ordinary_slots,
            snap.client_backends,
            0,
            0,
            [],
            s.max_connections,
            s.superuser_reserved_connections,
            s.reserved_connections,
            len(snap.own),
        )
    ]
    for r in snap.roles:
        if r.conn_limit > 0 and not r.superuser:
            own = sum(1 for role, _ in snap.own if role == r.name)
            rows.append(("role", r.name, r.conn_limit, r.current, 0, 0, [], None, None, None, own))
    for d in snap.databases:
        if d.conn_limit > 0:
            own = sum(1 for _, db in snap.own if db == d.name)
            rows.append(
                ("database", d.name, d.conn_limit, d.current, 0, 0, [], None, None, None, own)
            )
    return rows


@settings(
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(snapshots())
def test_headroom_adds_up_in_every_output(snap: Snapshot) -> None:
    server = snap.server_headroom()
    _holds(server)
    assert server.total == snap.client_backends + len(snap.own)
    for r in snap.roles:
        _holds(snap.role_headroom(r.name))
    for d in snap.databases:
        _holds(snap.database_headroom(d.name))
    assert snap.ordinary_free == server.free

    report = triage([], snap, cluster="prod", playbooks=repo_playbooks())
    for f in report.findings:
        if f.headroom is not None:
            _holds(f.headroom)
            assert (f.current, f.limit) == (f.headroom.used, f.headroom.usable)

    # Text: the context line carries the server's figure, and every figure adds up.
    text = render_text(report, width=10_000)
    assert server.figures() in text
    _figures_add_up(text)

    # JSON: the same numbers, and every headroom object holds.
    data = report_to_dict(report)
    _dicts_add_up(data)
    assert data["snapshot"]["headroom"]["server"] == server.as_dict()  # type: ignore[index]

    # Block Kit: the root message and the thread.
    root, thread = report_messages(report)
    shown = " ".join(str(m) for m in (root, *thread))
    assert server.figures() in shown
    _figures_add_up(shown)
    for f in report.findings:
        if f.headroom is not None and f.headroom.usable:
            assert f"{f.headroom.percent}% used" in shown or f.title in shown

    # pgconn check: the probe's rows give the same figures.
    probe = parse_rows("prod", 0.0, _probe_rows(snap))
    assert isinstance(probe, Probe)
    checked = probe.usage(EntityKind.SERVER)
    assert checked is not None and checked.headroom == server
    assert (checked.current, checked.limit) == (server.used, server.usable)
    for u in probe.usages:
        assert u.headroom is not None
        _holds(u.headroom)
        if u.kind is EntityKind.ROLE:
            assert u.headroom == snap.role_headroom(u.name)
        if u.kind is EntityKind.DATABASE:
            assert u.headroom == snap.database_headroom(u.name)
    # The alert reads the same figure: `used/usable (share)` from the same model.
    for u in probe.usages:
        view = WarningView("prod", u, Level.WARNING, NO_TREND, 0.0, u.current, None)
        notice = warning(view)
        assert f"*{u.short()}*" in str(notice.blocks)
        _figures_add_up(notice.text)
    result = evaluate(CONFIG, probe)
    table = check_text([result])
    assert f"{server.used}/{server.usable}" in table
    _dicts_add_up(check_dict([result]))
