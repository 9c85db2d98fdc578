"""Session state an idle backend carries (what a transaction-mode pooler would leak), read on
real servers in the same round trip as the rest of the snapshot."""

from __future__ import annotations

import psycopg
import pytest

from bot.diagnostics import connect_readonly, diagnose, snapshot
from bot.diagnostics.features import classify
from tests import pg


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("LISTEN orders", ("listen", "orders")),
        ('listen "Mixed Case";', ("listen", "Mixed Case")),
        ("SET search_path = app, public", ("set", "search_path")),
        ("set session statement_timeout to 0", ("set", "statement_timeout")),
        ("SET TIME ZONE 'UTC'", ("set", "timezone")),
        ("SET ROLE admin", ("set", "role")),
        ("SET SESSION AUTHORIZATION bob", ("set", "session authorization")),
        ("SET myapp.tenant = '42'", ("set", "myapp.tenant")),
        ("PREPARE q1 (int) AS SELECT $1", ("prepare", "q1")),
        ("SET LOCAL work_mem = '64MB'", None),
        ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", None),
        ("SET CONSTRAINTS ALL DEFERRED", None),
        ("PREPARE TRANSACTION 'tx1'", None),
        ("SELECT 'SET search_path = x'", None),
        ("settings", None),
        (None, None),
    ],
)
def test_classify(query, expected):
    assert classify(query) == expected


def test_idle_sessions_with_session_state_are_read_when_pooled(cluster, holder):
    app, monitor = pg.unique("app"), pg.unique("mon")
    pw = pg.create_role(cluster, app)
    mon_pw = pg.create_role(cluster, monitor, extra="IN ROLE pg_monitor")
    holder.open(4, app, pw, app="worker")
    listening, setting, locking, plain = holder.conns[-4:]
    listening.execute("LISTEN jobs")
    setting.execute("SET search_path = public")
    locking.execute("SELECT pg_advisory_lock(7)")
    plain.execute("SELECT 1")

    snap = diagnose(cluster.dsn(user=monitor, password=mon_pw), "t", pooled=True)
    mine = {(f.pid, f.kind, f.name) for f in snap.session_features if f.role == app}
    assert mine == {
        (listening.info.backend_pid, "listen", "jobs"),
        (setting.info.backend_pid, "set", "search_path"),
        (locking.info.backend_pid, "advisory_lock", None),
    }
    assert diagnose(cluster.dsn(), "t").session_features == ()  # not read unless pooled


def test_the_pooled_snapshot_is_still_one_round_trip(cluster):
    sent = []
    with connect_readonly(cluster.dsn()) as conn:
        real_execute = psycopg.Cursor.execute

        def spy(self, query, *args, **kwargs):
            sent.append(query)
            return real_execute(self, query, *args, **kwargs)

        psycopg.Cursor.execute = spy  # type: ignore[method-assign]
        try:
            snapshot.take_snapshot(conn, "t", pooled=True)
        finally:
            psycopg.Cursor.execute = real_execute  # type: ignore[method-assign]
    assert len(sent) == 1
