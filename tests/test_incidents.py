"""Real incidents on real servers (15 and 18), from the refused login to the triage report.

Every FATAL text fed to explain is the one the server really sent; the log files scanned are
the ones it really wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import signals, throwaway
from bot.config import ClusterConfig
from bot.playbooks import load_playbooks
from bot.render.json import report_to_dict
from bot.render.text import render_text
from bot.service import analyse
from bot.signals.model import SignalKind
from bot.triage import FindingCode, Severity, Thresholds
from tests import pg

# Sessions opened by a test are seconds old; these thresholds let them count as stuck.
NOW = Thresholds(idle_min_age_s=0, idle_tx_min_age_s=0)


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks()


def _only(found, kind):
    matching = [s for s in found if s.kind == kind]
    assert len(matching) == 1, found
    return matching[0]


def _codes(report):
    return [f.code for f in report.findings]


def _live(cluster, name="incident", **dsn):
    return ClusterConfig(name=name, dsn=cluster.dsn(**dsn))


def test_role_at_its_limit_with_leaked_idle_sessions(cluster, holder, playbooks):
    role = pg.unique("app user")  # a space: quoting must hold end to end
    password = pg.create_role(cluster, role, limit=5)
    holder.open(5, role, password, app="checkout")
    fatal = holder.refused(role, password)

    assert f'too many connections for role "{role}"' in fatal
    signal = _only(signals.scan(fatal), SignalKind.ROLE_LIMIT)
    assert (signal.role, signal.sqlstate) == (role, "53300")

    report = analyse([signal], _live(cluster), playbooks, thresholds=NOW)

    assert report.live
    top = report.findings[0]
    assert top.code == FindingCode.ROLE_LIMIT
    assert top.severity == Severity.CRITICAL
    assert top.role == role
    assert (top.current, top.limit) == (5, 5)
    assert FindingCode.IDLE_SESSIONS in _codes(report)
    idle = next(f for f in report.findings if f.code == FindingCode.IDLE_SESSIONS)
    assert any("checkout" in e for e in idle.evidence), idle.evidence
    text = render_text(report)
    assert role in text and "5 of its 5" in text
    assert password not in text


def test_database_at_its_limit(cluster, holder, playbooks):
    role, db = pg.unique("app"), pg.unique("shop")
    password = pg.create_role(cluster, role)
    pg.create_database(cluster, db, limit=3)
    holder.open(3, role, password, dbname=db, app="orders")
    fatal = holder.refused(role, password, dbname=db)

    signal = _only(signals.scan(fatal), SignalKind.DATABASE_LIMIT)
    assert signal.database == db

    report = analyse([signal], _live(cluster), playbooks, thresholds=NOW)
    top = report.findings[0]
    assert (top.code, top.database) == (FindingCode.DATABASE_LIMIT, db)
    assert (top.current, top.limit) == (3, 3)


def test_idle_in_transaction_holds_the_role(cluster, holder, playbooks):
    role = pg.unique("batch")
    password = pg.create_role(cluster, role, limit=3)
    holder.open(1, role, password, app="etl")
    holder.open(2, role, password, app="etl", idle_in_transaction=True)
    fatal = holder.refused(role, password)

    report = analyse(signals.scan(fatal), _live(cluster), playbooks, thresholds=NOW)

    assert FindingCode.IDLE_IN_TRANSACTION in _codes(report)
    finding = next(f for f in report.findings if f.code == FindingCode.IDLE_IN_TRANSACTION)
    assert any("2" in e and role in e for e in finding.evidence), finding.evidence
    # The server has no idle_in_transaction_session_timeout: the playbook must say to set one.
    sql = [s.statement for f in report.findings if f.playbook for s in f.playbook.sql]
    assert any("idle_in_transaction_session_timeout" in s for s in sql), sql


def test_paste_without_live_data_still_gets_the_playbook(cluster, holder, playbooks):
    role = pg.unique("web")
    password = pg.create_role(cluster, role, limit=1)
    holder.open(1, role, password)
    fatal = holder.refused(role, password)

    report = analyse(signals.scan(fatal), None, playbooks)

    assert not report.live
    top = report.findings[0]
    assert top.code == FindingCode.ROLE_LIMIT and top.role == role
    assert top.playbook is not None and top.playbook.now


def test_server_log_files_in_every_format_carry_the_signal(cluster, holder):
    role = pg.unique("logged")
    password = pg.create_role(cluster, role, limit=1)
    holder.open(1, role, password)
    holder.refused(role, password)
    logs = cluster.data_dir / "log"

    for suffix, source in [("", "stderr"), (".csv", "csvlog"), (".json", "jsonlog")]:
        path = logs / f"postgresql{suffix}"
        found = _wait_for_role_signal(path, role)
        assert found is not None, f"{path.name}: no role_limit signal for {role}"
        assert found.sqlstate == "53300"
        assert found.source == source, (path.name, found.source)


def _wait_for_role_signal(path: Path, role: str):
    deadline = time.monotonic() + 10  # the logging collector writes asynchronously
    while time.monotonic() < deadline:
        if path.exists():
            for s in signals.scan_file(path):
                if s.kind == SignalKind.ROLE_LIMIT and s.role == role:
                    return s
        time.sleep(0.1)
    return None


# --- a server filled to its last slot: needs its own small server per major ---------------


@pytest.fixture(scope="module", params=pg.MAJORS, ids=[f"pg{m}" for m in pg.MAJORS])
def small(request) -> Iterator[throwaway.ThrowawayCluster]:
    """max_connections 8: on 15, 2 reserved for superusers (6 ordinary); on 18, 2 for
    superusers and 1 for pg_use_reserved_connections (5 ordinary)."""
    settings = {"max_connections": "8", "superuser_reserved_connections": "2"}
    if request.param >= 16:
        settings["reserved_connections"] = "1"
    server = pg.start(request.param, settings)
    yield server
    server.destroy()


def test_reserved_slots_and_server_full(small, playbooks):
    app, monitor = "app", "pgconn_monitor"
    pw = pg.create_role(small, app)
    grant = (
        "IN ROLE pg_monitor, pg_use_reserved_connections"
        if small.major >= 16
        else "IN ROLE pg_monitor"
    )
    mon_pw = pg.create_role(small, monitor, extra=grant)
    ordinary = 8 - 2 - (1 if small.major >= 16 else 0)

    with pg.holding(small) as h:
        h.open(ordinary, app, pw, app="api")
        fatal = h.refused(app, pw)
        reserved = _only(signals.scan(fatal), SignalKind.RESERVED_SLOTS)
        if small.major >= 16:
            assert '"pg_use_reserved_connections" role' in fatal
        else:
            assert "non-replication superuser connections" in fatal
        assert reserved.sqlstate == "53300"

        # The ordinary slots are gone; a superuser still gets in and sees it live.
        report = analyse([reserved], ClusterConfig("small", small.dsn()), playbooks, thresholds=NOW)
        assert report.live
        assert report.findings[0].code == FindingCode.RESERVED_SLOTS
        assert report.snapshot is not None
        assert report.snapshot.client_backends == ordinary
        assert report.snapshot.ordinary_free <= 0

        if small.major >= 16:
            # The monitoring role takes the pg_use_reserved_connections slot; the next
            # non-superuser hears the SUPERUSER wording.
            via_reserved = analyse(
                [],
                ClusterConfig("small", small.dsn(user=monitor, password=mon_pw)),
                playbooks,
                thresholds=NOW,
            )
            assert via_reserved.live
            h.open(1, monitor, mon_pw, app="holder")
            fatal16 = h.refused(monitor, mon_pw)
            assert "SUPERUSER attribute" in fatal16
            assert _only(signals.scan(fatal16), SignalKind.RESERVED_SLOTS).sqlstate == "53300"

        # Superusers fill the rest; then nobody gets in.
        free = 8 - len(h.conns)
        h.open(free, "postgres", None, app="admin-shell")
        fatal_full = h.refused("postgres", None)
        assert "sorry, too many clients already" in fatal_full
        full = _only(signals.scan(fatal_full), SignalKind.MAX_CONNECTIONS)

        # pgconn cannot connect either: the report says why and still gives the playbook.
        blind = analyse([full], ClusterConfig("small", small.dsn()), playbooks)
        assert not blind.live
        assert any("could not connect" in n for n in blind.notes), blind.notes
        assert blind.findings and blind.findings[0].code == FindingCode.MAX_CONNECTIONS
        dumped = json.dumps(report_to_dict(blind))
        assert small.superuser_password not in dumped
        assert small.superuser_password not in render_text(blind)
