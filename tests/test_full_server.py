"""A server full to its last ordinary slot (15 and 18): pgconn still diagnoses it, with live
numbers, through the connection it keeps open or through the reserved slots; when it truly
cannot connect it still answers, says why, and says exactly what to run next time."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pglast
import pytest
from psycopg import sql

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.diagnostics.keeper import Backoff, Keepers
from bot.playbooks import load_playbooks
from bot.render.json import report_to_dict
from bot.render.text import render_text
from bot.service import analyse
from bot.signals.model import SignalKind
from bot.triage import FindingCode, Severity
from bot.triage.access import assess, assess_unconnected
from tests import pg
from tests.factories import signal

MAX, SUPERUSER_RESERVED, RESERVED = 8, 2, 1


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks()


@pytest.fixture(scope="module", params=pg.MAJORS, ids=[f"pg{m}" for m in pg.MAJORS])
def full(request) -> Iterator[throwaway.ThrowawayCluster]:
    """max_connections 8: 2 slots for superusers, and on 16+ 1 for pg_use_reserved_connections."""
    settings = {
        "max_connections": str(MAX),
        "superuser_reserved_connections": str(SUPERUSER_RESERVED),
    }
    if request.param >= 16:
        settings["reserved_connections"] = str(RESERVED)
    server = pg.start(request.param, settings)
    yield server
    server.destroy()


def _ordinary(server: throwaway.ThrowawayCluster) -> int:
    return MAX - SUPERUSER_RESERVED - (RESERVED if server.major >= 16 else 0)


def _ident(name: str) -> str:
    return sql.Identifier(name).as_string(None)


def _what_to_run(server: throwaway.ThrowawayCluster, role: str) -> str:
    """What gives a plain monitoring role a way into a full server: on 16+ a GRANT; on 15 no
    statement (a superuser monitoring role is never advised), the connection a bot keeps."""
    if server.major >= 16:
        return f"GRANT pg_use_reserved_connections TO {_ident(role)};"
    return "run pgconn as a bot (it keeps one per cluster)"


def _role_in(statement: str) -> str:
    """The role a GRANT ... TO / ALTER ROLE statement names, as PostgreSQL's parser reads it."""
    tree = pglast.parse_sql(statement)[0].stmt
    spec = tree.grantee_roles[0] if hasattr(tree, "grantee_roles") else tree.role
    return spec.rolename


def test_the_kept_connection_sees_a_server_full_to_its_last_ordinary_slot(full, playbooks):
    monitor, app = pg.unique('mon "x"'), pg.unique("app")
    mon_pw = pg.create_role(full, monitor, extra="IN ROLE pg_monitor")
    app_pw = pg.create_role(full, app)
    config = ClusterConfig("full", full.dsn(user=monitor, password=mon_pw))
    ordinary = _ordinary(full)
    keepers = Keepers(secrets=[mon_pw])
    keepers.warm([config])  # a bot at start-up: pgconn holds its slot before the incident
    try:
        with pg.holding(full) as h:
            h.open(ordinary - 1, app, app_pw, app="api")  # pgconn holds the last one
            fatal = h.refused(app, app_pw)
            found = signals.scan(fatal)
            assert [s.kind for s in found] == [SignalKind.RESERVED_SLOTS]
            # A new connection for pgconn's own role is refused as well.
            refused = h.refused(monitor, mon_pw)
            assert "reserved" in refused

            report = analyse(found, config, playbooks, keepers=keepers, secrets=[mon_pw])

            assert report.live
            snap = report.snapshot
            assert snap is not None
            assert snap.client_backends == ordinary - 1
            assert snap.ordinary_free == 0
            top = report.findings[0]
            assert (top.code, top.severity) == (FindingCode.RESERVED_SLOTS, Severity.CRITICAL)
            # pgconn's kept connection holds the last ordinary slot: not counted as used, and
            # not usable by anyone else.
            assert (top.current, top.limit) == (ordinary - 1, ordinary - 1)
            notes = "\n".join(report.notes)
            assert "through the connection it keeps open since" in notes
            assert "would have been refused" in notes
            assert _what_to_run(full, monitor) in notes
            assert "SUPERUSER" not in notes
            if full.major >= 16:
                assert _role_in(_what_to_run(full, monitor)) == monitor

            # The one-shot path (a new connection): refused, and it still answers.
            blind = analyse(found, config, playbooks, secrets=[mon_pw])
            assert not blind.live
            blind_notes = "\n".join(blind.notes)
            assert f"could not connect to full as role {monitor}" in blind_notes
            assert "remaining connection slots are reserved" in blind_notes
            assert _what_to_run(full, monitor) in blind_notes
            assert blind.findings[0].code == FindingCode.RESERVED_SLOTS
            assert blind.findings[0].playbook is not None
            for shown in (
                render_text(blind),
                json.dumps(report_to_dict(blind)),
                render_text(report),
            ):
                assert mon_pw not in shown
    finally:
        keepers.close()


def test_a_new_connection_gets_in_through_the_reserve(full, playbooks):
    """16+: a role with pg_use_reserved_connections; 15: a superuser monitoring role."""
    monitor, app = pg.unique("mon"), pg.unique("app")
    if full.major >= 16:
        extra = "IN ROLE pg_monitor, pg_use_reserved_connections"
        how = f"has pg_use_reserved_connections (reserved_connections = {RESERVED})"
    else:
        extra = "SUPERUSER"
        how = f"is a superuser (superuser_reserved_connections = {SUPERUSER_RESERVED})"
    mon_pw = pg.create_role(full, monitor, extra=extra)
    app_pw = pg.create_role(full, app)
    ordinary = _ordinary(full)
    with pg.holding(full) as h:
        h.open(ordinary, app, app_pw, app="api")
        found = signals.scan(h.refused(app, app_pw))

        report = analyse(
            found, ClusterConfig("full", full.dsn(user=monitor, password=mon_pw)), playbooks
        )

    assert report.live
    assert report.snapshot is not None
    assert report.snapshot.client_backends == ordinary
    # pgconn sits in a reserved slot: it takes nothing from the ordinary ones, all used.
    room = report.snapshot.server_headroom()
    assert (room.used, room.usable, room.free, room.own_reserved) == (ordinary, ordinary, 0, 1)
    assert (report.findings[0].current, report.findings[0].limit) == (ordinary, ordinary)
    assert report.snapshot.ordinary_free == 0
    if full.major < 16:
        # A superuser monitoring role on 15 does use the superuser-reserved slots.
        assert not any("cannot use the reserved slots" in e for e in report.findings[0].evidence)
    notes = "\n".join(report.notes)
    assert "pgconn got in through the reserved slots" in notes
    assert how in notes
    assert "Run:" not in notes  # nothing is missing
    assert report.findings[0].code == FindingCode.RESERVED_SLOTS


def test_when_nobody_can_connect_pgconn_says_why_and_retries_on_a_schedule(full, playbooks):
    monitor = pg.unique("mon")
    mon_pw = pg.create_role(full, monitor, extra="IN ROLE pg_monitor")
    config = ClusterConfig("full", full.dsn(user=monitor, password=mon_pw))
    # A long first backoff (the default's first retry is within the wait, and is waited for).
    keepers = Keepers(secrets=[mon_pw], backoff=Backoff(base_s=60, cap_s=120))
    try:
        with pg.holding(full) as h:
            app = pg.unique("app")
            h.open(_ordinary(full), app, pg.create_role(full, app), app="api")
            h.open(MAX - len(h.conns), "postgres", None, app="admin-shell")
            assert "too many clients" in h.refused("postgres", None)

            report = analyse([], config, playbooks, keepers=keepers, secrets=[mon_pw])
            again = analyse([], config, playbooks, keepers=keepers, secrets=[mon_pw])

        for r in (report, again):
            assert not r.live
            assert r.findings[0].code == FindingCode.MAX_CONNECTIONS  # from the refusal itself
            notes = "\n".join(r.notes)
            assert "sorry, too many clients already" in notes
            assert "it had none to this cluster" in notes
            assert _ident(monitor) in notes
        # The second diagnosis came within the backoff: no second login attempt was made.
        state = keepers.postgres(config).state()
        assert state.failures == 1
        assert state.retry_in_s > 0
    finally:
        keepers.close()


def test_a_missing_reserved_path_is_reported_with_what_to_run(cluster, playbooks):
    """The shared servers keep no reserved_connections (16+) and the role is no superuser."""
    monitor = pg.unique('mon"; DROP ROLE x; --')
    extra = "IN ROLE pg_monitor" + (", pg_use_reserved_connections" if cluster.major >= 16 else "")
    mon_pw = pg.create_role(cluster, monitor, extra=extra)
    pasted = [signal("reserved_slots", detail="superuser")]

    report = analyse(
        pasted, ClusterConfig("c", cluster.dsn(user=monitor, password=mon_pw)), playbooks
    )

    assert report.live
    notes = "\n".join(report.notes)
    if cluster.major >= 16:
        expected = "ALTER SYSTEM SET reserved_connections = 3;"
        assert "reserved_connections is 0" in notes
        assert "GRANT" not in notes  # the role already has the privilege
        assert expected in notes
        pglast.parse_sql(expected)
    else:
        # Never advise making the monitoring role a superuser: the kept connection instead.
        assert "SUPERUSER" not in notes
        assert _what_to_run(cluster, monitor) in notes


# --- the advice itself, without a server -----------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "ready", "statements"),
    [
        ({"superuser": True, "superuser_reserved_connections": 3}, True, []),
        (
            {"superuser": True, "superuser_reserved_connections": 0},
            False,
            ["ALTER SYSTEM SET superuser_reserved_connections = 3;"],
        ),
        ({"can_use_reserved": True, "reserved_connections": 2}, True, []),
        (
            {"can_use_reserved": False, "reserved_connections": 0},
            False,
            [
                "ALTER SYSTEM SET reserved_connections = 3;",
                'GRANT pg_use_reserved_connections TO "a""b";',
            ],
        ),
        (
            {"can_use_reserved": False, "reserved_connections": 3},
            False,
            ['GRANT pg_use_reserved_connections TO "a""b";'],
        ),
    ],
)
def test_reserved_path_on_16(kwargs, ready, statements):
    args = {
        "superuser": False,
        "can_use_reserved": False,
        "reserved_connections": 0,
        "superuser_reserved_connections": 3,
        **kwargs,
    }
    path = assess('a"b', 170004, **args)
    assert path.ready is ready
    assert list(path.statements) == statements
    for s in statements:
        pglast.parse_sql(s)


def test_without_a_connection_the_refusal_tells_the_version():
    role = "pgconn_mon"
    new = signal("reserved_slots", detail="pg_use_reserved_connections")
    old = signal(
        "reserved_slots",
        detail="superuser",
        excerpt="remaining connection slots are reserved for non-replication superuser connections",
    )
    assert assess_unconnected(role, None, [new]).statements == (
        'GRANT pg_use_reserved_connections TO "pgconn_mon";',
    )
    on15 = assess_unconnected(role, None, [old])
    assert on15.statements == ()  # 16+ statements would fail on 15; SUPERUSER is never advised
    assert "PostgreSQL 15" in on15.summary and "SUPERUSER" not in on15.note()
    # The 16+ wording names the SUPERUSER attribute: the 16+ forms alone.
    on16 = assess_unconnected(
        role,
        None,
        [
            signal(
                "reserved_slots",
                detail="superuser",
                excerpt="remaining connection slots are reserved for roles with the SUPERUSER "
                "attribute",
            )
        ],
    )
    assert "16 or newer" in on16.summary
    assert on16.statements[-1] == 'GRANT pg_use_reserved_connections TO "pgconn_mon";'
    # Nothing to tell the version by: each form with the versions it applies to.
    unknown = assess_unconnected(role, None, [signal("max_connections")])
    assert unknown.statements == (
        "ALTER SYSTEM SET reserved_connections = 3;",
        'GRANT pg_use_reserved_connections TO "pgconn_mon";',
    )
    assert "PostgreSQL 16 and newer" in unknown.summary
    assert "PostgreSQL 15 and older" in unknown.summary
    assert unknown.note().index("On 16+ run:") < unknown.note().index("ALTER SYSTEM")
    # A version seen earlier (by a kept connection) decides.
    assert assess_unconnected(role, 150004, [signal("max_connections")]).statements == ()
    assert assess_unconnected(role, 170002, [signal("max_connections")]).statements == (
        "ALTER SYSTEM SET reserved_connections = 3;",
        'GRANT pg_use_reserved_connections TO "pgconn_mon";',
    )


def test_pgconn_in_a_reserved_slot_reads_the_same_figure_in_report_check_and_warning(full):
    """Every ordinary slot taken by the application, pgconn in a reserved one: the report,
    `pgconn check` and the warning all read N/N (100%), never N+1/N."""
    from bot.config import parse
    from bot.warnings import render
    from bot.warnings.check import check
    from bot.warnings.model import EntityKind, Level
    from bot.warnings.render import check_text
    from bot.warnings.trend import NO_TREND

    monitor, app = pg.unique("mon"), pg.unique("app")
    extra = "SUPERUSER" if full.major < 16 else "IN ROLE pg_monitor, pg_use_reserved_connections"
    mon_pw = pg.create_role(full, monitor, extra=extra)
    app_pw = pg.create_role(full, app)
    ordinary = _ordinary(full)
    dsn = full.dsn(user=monitor, password=mon_pw)
    with pg.holding(full) as h:
        h.open(ordinary, app, app_pw, app="api")
        report = analyse([], ClusterConfig("full", dsn), load_playbooks())
        config = parse({"clusters": {"full": {"dsn": dsn}}}, env={})
        [result] = check(config)
    assert report.snapshot is not None
    room = report.snapshot.server_headroom()
    assert (room.used, room.usable, room.free, room.own_reserved) == (ordinary, ordinary, 0, 1)
    top = report.findings[0]
    assert (top.current, top.limit) == (ordinary, ordinary)
    server = next(e for e in result.evaluations if e.usage.kind is EntityKind.SERVER)
    assert (server.usage.current, server.usage.limit) == (ordinary, ordinary)
    assert server.usage.short() == f"{ordinary}/{ordinary} (100%)"
    assert f"{ordinary}/{ordinary}" in check_text([result])
    assert f"{ordinary + 1}/{ordinary}" not in check_text([result])
    view = render.WarningView("full", server.usage, Level.CRITICAL, NO_TREND, 0.0, ordinary, None)
    assert f"at *{ordinary}/{ordinary} (100%)*" in render.warning(view).text + str(
        render.warning(view).blocks
    )
    assert room.figures() in render_text(report)
